//! A model loaded while its bundle archive arrives (a download, a chosen file): built from
//! `config.json` when the first tensor comes, each tensor decoded as its bytes arrive and put
//! on the device as soon as it is complete, so neither the archive nor the weights file is
//! ever held.

use burn::store::ModuleSnapshot;
use burn::tensor::{Device, TensorData};

use super::{
    BundleError, BundleFiles, BundleStream, CONFIG_FILE, KeyMap, LoadReport, TensorPiece,
    WEIGHTS_FILE, WeightStream,
};

/// A model a [`ModelStream`] can fill.
pub trait StreamedModel: Sized {
    type Module: ModuleSnapshot;
    type Error: From<BundleError>;

    /// The unfilled model `files` (the archive's members before the weights, `config.json`
    /// among them) describe, and how the file's tensor names map to its parameters.
    fn start(files: &BundleFiles, device: &Device) -> Result<(Self, KeyMap), Self::Error>;

    /// The parameters tensors go into.
    fn module(&mut self) -> &mut Self::Module;

    /// Sees each tensor (`target` = its parameter path, `data` its values in the parameter's
    /// layout) before it is applied, for a model that keeps a host copy of some tensor.
    fn observe(&mut self, _target: &str, _data: &TensorData) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The load is complete.
    fn loaded(&mut self, report: LoadReport);
}

/// A [`StreamedModel`] being loaded chunk by chunk.
pub struct ModelStream<T: StreamedModel> {
    stream: BundleStream,
    loading: Option<(T, WeightStream)>,
    device: Device,
    max_tensor_bytes: Option<u64>,
}

impl<T: StreamedModel> ModelStream<T> {
    pub fn new(device: &Device) -> Self {
        Self {
            stream: BundleStream::new(),
            loading: None,
            device: device.clone(),
            max_tensor_bytes: None,
        }
    }

    /// Refuses, by name, any tensor larger than `bytes` as f32 (see
    /// [`WeightStream::with_tensor_limit`]).
    pub fn with_tensor_limit(mut self, bytes: Option<u64>) -> Self {
        self.max_tensor_bytes = bytes;
        self
    }

    /// Feeds the archive's next bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), T::Error> {
        let Self {
            stream,
            loading,
            device,
            max_tensor_bytes,
        } = self;
        // The model's own errors leave the tar reader's callback as a placeholder and are
        // returned here as they were.
        let mut failed = None;
        let result = stream.push(chunk, &mut |files, piece| {
            let outcome = (|| {
                if loading.is_none() {
                    if !files.contains(CONFIG_FILE) {
                        return Err(BundleError::Archive(format!(
                            "{WEIGHTS_FILE} comes before {CONFIG_FILE} in the archive; a \
                             streamed bundle needs its config first (pack it with `tessera \
                             bundle pack`)"
                        ))
                        .into());
                    }
                    let (mut model, key_map) = T::start(files, device)?;
                    let weights = WeightStream::new(WEIGHTS_FILE, &key_map, model.module())?
                        .with_tensor_limit(*max_tensor_bytes);
                    *loading = Some((model, weights));
                }
                let (model, weights) = loading.as_mut().expect("started above");
                match piece {
                    TensorPiece::Start(entry) => weights.begin(entry)?,
                    TensorPiece::Bytes(bytes) => weights.extend(bytes)?,
                    TensorPiece::End => {
                        if let Some(tensor) = weights.end()? {
                            model.observe(&tensor.target, &tensor.data)?;
                            weights.apply(model.module(), tensor)?;
                        }
                    }
                }
                Ok(())
            })();
            outcome.map_err(|error: T::Error| {
                failed = Some(error);
                BundleError::Archive("stopped".into())
            })
        });
        match (failed, result) {
            (Some(error), _) => Err(error),
            (None, result) => Ok(result?),
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.stream.received()
    }

    /// Ends the stream: the model (every parameter filled) and the bundle's other files.
    pub fn finish(self) -> Result<(T, BundleFiles), T::Error> {
        let files = self.stream.finish()?;
        let (mut model, weights) = self.loading.ok_or_else(|| BundleError::Corrupt {
            file: WEIGHTS_FILE.into(),
            message: "holds no tensors".into(),
        })?;
        let report = weights.finish(false)?;
        model.loaded(report);
        Ok((model, files))
    }
}
