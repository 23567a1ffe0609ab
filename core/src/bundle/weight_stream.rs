//! A safetensors file loaded into a module as its bytes arrive (the browser's streamed
//! download): each tensor is decoded piece by piece into the buffer its parameter takes and
//! applied when complete, so neither the file nor a tensor's stored bytes are ever held.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use burn::store::ModuleSnapshot;
use burn::tensor::{DType, TensorData};
use safetensors::Dtype;

use super::decode::{TensorDecoder, tensor_error};
use super::dtype::Q8_SCALE_SUFFIX;
use super::keymap::Renamer;
use super::safetensors::TensorEntry;
use super::weights::{
    Source, apply, check_q8, check_size, finish, float_dtype, holder, linear_weights, scale_values,
};
use super::{BundleError, KeyMap, LoadReport};

/// Loads a safetensors file tensor by tensor in file order ([`begin`](Self::begin),
/// [`extend`](Self::extend), [`end`](Self::end), then [`apply`](Self::apply)). q8 weights wait
/// (decoded, unscaled) for their scales, and scales for their weights, if the file has them
/// apart. Tensors the module has no place for are counted unused and never decoded or held
/// (a head the model was built without).
pub struct WeightStream {
    file: Arc<str>,
    renamer: Renamer,
    parameters: BTreeSet<String>,
    /// The modules holding them (`a.b` for `a.b.weight`).
    holders: BTreeSet<String>,
    /// The Linear weights among them, decoded straight into burn's transposed layout.
    linear: BTreeSet<String>,
    /// The float dtype the module's device computes in.
    float: DType,
    max_tensor_bytes: Option<u64>,
    current: Current,
    /// q8 scales that came before their weights, by weight name.
    scales: HashMap<String, (TensorEntry, Vec<f32>)>,
    /// int8 weights that came before their scales, decoded.
    waiting: HashMap<String, TensorDecoder>,
    applied: BTreeSet<String>,
    unused: Vec<String>,
}

/// The tensor whose bytes are arriving.
enum Current {
    None,
    /// One the module has no place for.
    Skip,
    Tensor(TensorDecoder),
    /// A q8 weight's scales (one f32 a row: small).
    Scales {
        entry: TensorEntry,
        bytes: Vec<u8>,
    },
}

/// A tensor decoded and ready for its parameter; [`StreamedModel`](super::StreamedModel)s may
/// look at it first.
pub struct DecodedTensor {
    /// The parameter path it goes to.
    pub target: String,
    /// Its values as f32, in the parameter's layout (converted to the device's float dtype
    /// when applied).
    pub data: TensorData,
    entry: TensorEntry,
    transposed: bool,
}

impl WeightStream {
    /// A stream into `module`'s parameters (walked here for their names and kinds).
    pub fn new<M: ModuleSnapshot>(
        file: &str,
        key_map: &KeyMap,
        module: &mut M,
    ) -> Result<Self, BundleError> {
        // A walk with no tensors lists every parameter as missing.
        let parameters: BTreeSet<String> = apply(module, Vec::new(), HashMap::new(), None)
            .missing
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let holders = parameters.iter().map(|p| holder(p).to_string()).collect();
        Ok(Self {
            file: file.into(),
            renamer: key_map.compile()?,
            parameters,
            holders,
            linear: linear_weights(module),
            float: float_dtype(module),
            max_tensor_bytes: None,
            current: Current::None,
            scales: HashMap::new(),
            waiting: HashMap::new(),
            applied: BTreeSet::new(),
            unused: Vec::new(),
        })
    }

    /// Refuses, by name, any tensor larger than `bytes` as f32 (one WebGPU buffer binding:
    /// better an error naming the tensor than a GPU validation error or a trap).
    pub fn with_tensor_limit(mut self, bytes: Option<u64>) -> Self {
        self.max_tensor_bytes = bytes;
        self
    }

    /// A tensor starts; its bytes follow.
    pub fn begin(&mut self, entry: TensorEntry) -> Result<(), BundleError> {
        let file = &*self.file;
        let base = entry
            .name
            .strip_suffix(Q8_SCALE_SUFFIX)
            .unwrap_or(&entry.name);
        let target = self.renamer.apply(base);
        // Matched by the module holding it (a norm's `weight` fills its `gamma`).
        if !self.holders.contains(holder(&target)) {
            if base == entry.name {
                self.unused.push(target);
            }
            self.current = Current::Skip;
            return Ok(());
        }
        self.current = if base != entry.name {
            Current::Scales {
                entry,
                bytes: Vec::new(),
            }
        } else {
            if let Some(limit) = self.max_tensor_bytes {
                check_size(file, &entry, limit)?;
            }
            let transposed = self.linear.contains(&target);
            Current::Tensor(TensorDecoder::new(file, &entry, transposed)?)
        };
        Ok(())
    }

    /// The current tensor's next bytes.
    pub fn extend(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        match &mut self.current {
            Current::None => Err(BundleError::Corrupt {
                file: self.file.to_string(),
                message: "bytes outside any tensor".into(),
            }),
            Current::Skip => Ok(()),
            Current::Tensor(decoder) => decoder.push(bytes),
            Current::Scales { entry, bytes: kept } => {
                if kept.len() + bytes.len() > entry.range.len() {
                    return Err(tensor_error(&self.file, &entry.name, "bytes past its end"));
                }
                kept.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// The current tensor is complete: it, decoded, if it can go into its parameter now (a q8
    /// weight and its scales go once both are here).
    pub fn end(&mut self) -> Result<Option<DecodedTensor>, BundleError> {
        let file = self.file.clone();
        match std::mem::replace(&mut self.current, Current::None) {
            Current::None | Current::Skip => Ok(None),
            Current::Scales { entry, bytes } => {
                if bytes.len() != entry.range.len() {
                    return Err(tensor_error(&file, &entry.name, "ends early"));
                }
                let values = scale_values(&file, &entry, &bytes)?;
                let base = entry
                    .name
                    .strip_suffix(Q8_SCALE_SUFFIX)
                    .expect("scales")
                    .to_string();
                match self.waiting.remove(&base) {
                    Some(weight) => {
                        check_q8(&file, weight.entry(), Some((entry.dtype, &entry.shape)))?;
                        self.decoded(weight, Some(&values)).map(Some)
                    }
                    None => {
                        self.scales.insert(base, (entry, values));
                        Ok(None)
                    }
                }
            }
            Current::Tensor(decoder) if decoder.entry().dtype == Dtype::I8 => {
                let name = decoder.entry().name.clone();
                match self.scales.remove(&name) {
                    Some((scale, values)) => {
                        check_q8(&file, decoder.entry(), Some((scale.dtype, &scale.shape)))?;
                        self.decoded(decoder, Some(&values)).map(Some)
                    }
                    None => {
                        self.waiting.insert(name, decoder);
                        Ok(None)
                    }
                }
            }
            Current::Tensor(decoder) => self.decoded(decoder, None).map(Some),
        }
    }

    fn decoded(
        &self,
        decoder: TensorDecoder,
        scales: Option<&[f32]>,
    ) -> Result<DecodedTensor, BundleError> {
        let entry = decoder.entry().clone();
        let transposed = decoder.transposed();
        Ok(DecodedTensor {
            target: self.renamer.apply(&entry.name),
            data: decoder.finish(scales)?,
            entry,
            transposed,
        })
    }

    /// Puts a decoded tensor into its parameter in `module`.
    pub fn apply<M: ModuleSnapshot>(
        &mut self,
        module: &mut M,
        tensor: DecodedTensor,
    ) -> Result<(), BundleError> {
        let DecodedTensor {
            target,
            data,
            entry,
            transposed,
        } = tensor;
        let source = Source::decoded(self.file.clone(), entry, data, transposed, self.float);
        let tensor = source.tensor(target.clone(), None, false);
        let result = apply(
            module,
            vec![tensor],
            HashMap::from([(target, source)]),
            None,
        );
        finish(
            &self.file,
            result.errors,
            BTreeSet::new(),
            vec![],
            vec![],
            true,
        )?;
        self.applied.extend(result.applied);
        self.unused.extend(result.unused);
        Ok(())
    }

    /// Ends the stream: every int8 weight must have met its scales, and (unless `partial`)
    /// every parameter of `module` must have been filled.
    pub fn finish(self, partial: bool) -> Result<LoadReport, BundleError> {
        if let Some(name) = self.waiting.keys().min() {
            check_q8(&self.file, self.waiting[name].entry(), None)?;
        }
        if let Some(base) = self.scales.keys().min() {
            return Err(tensor_error(
                &self.file,
                &format!("{base}{Q8_SCALE_SUFFIX}"),
                format!("q8 scales for `{base}`, which the file does not hold"),
            ));
        }
        if !matches!(self.current, Current::None) {
            return Err(BundleError::Corrupt {
                file: self.file.to_string(),
                message: "ends before its last tensor".into(),
            });
        }
        let missing = self.parameters.into_iter().collect();
        finish(
            &self.file,
            vec![],
            self.applied,
            self.unused,
            missing,
            partial,
        )
    }
}
