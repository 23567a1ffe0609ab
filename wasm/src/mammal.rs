//! MAMMAL in the browser: a bundle (config, weights, `tokenizer/`, optional `tessera.json` with
//! its fine-tuned tasks) becomes a [`MammalSession`] that tokenizes prompts (with each token's
//! sub-tokenizer, for colouring) and answers them — text, class probabilities or a value.
//!
//! Requests and results cross as typed JS objects (serde-wasm-bindgen; a wrong field is an error
//! naming it); nothing here may panic on input. Prompts go through the core tokenizer (linear in
//! their length, warnings and padding bounded); a prompt the model would answer is also bounded
//! in tokens ([`MAX_RUN_TOKENS`]), so a hostile page input is an error, never a trap.

use std::rc::Rc;

use burn::tensor::Device;
use js_sys::Promise;
use serde::{Deserialize, Serialize};
use tessera_core::bundle::BundleFiles;
use tessera_core::models::mammal::finetune::{BundleTask, MammalInfo};
use tessera_core::models::mammal::task::{Answer, Task, answer};
use tessera_core::models::mammal::{MammalModel, MammalStreamLoad};
use tessera_core::tokenize::mammal::{EncodeOptions, Encoding, ModularTokenizer};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{Loading, from_js, from_js_tagged, js_error, to_js};

/// The most tokens a prompt may have for the model to answer it in the tab: attention holds
/// len² scores per head and layer, and the module's memory ends at 4 GiB. MAMMAL's tasks take a
/// few hundred to two thousand tokens.
const MAX_RUN_TOKENS: usize = 4096;

struct Session {
    model: MammalModel,
    tokenizer: ModularTokenizer,
    info: MammalInfo,
    device: Device,
}

/// A loaded MAMMAL bundle.
#[wasm_bindgen]
pub struct MammalSession {
    inner: Rc<Session>,
}

fn session(
    model: MammalModel,
    files: &BundleFiles,
    device: &Device,
) -> Result<MammalSession, JsError> {
    let tokenizer = ModularTokenizer::from_folder(files)
        .map_err(|e| JsError::new(&format!("the bundle's tokenizer/: {e}")))?;
    let info = MammalInfo::from_files(files).map_err(js_error)?;
    Ok(MammalSession {
        inner: Rc::new(Session {
            model,
            tokenizer,
            info,
            device: device.clone(),
        }),
    })
}

/// A MAMMAL bundle arriving chunk by chunk (`Runtime.streamMammalModel`): each chunk of the
/// archive is pushed as it is downloaded or read, and every tensor goes to the device as soon
/// as it is whole, so the archive is never held in the tab.
#[wasm_bindgen]
pub struct MammalLoader {
    inner: Loading<MammalStreamLoad>,
    device: Device,
}

impl MammalLoader {
    pub(crate) fn new(device: &Device, max_tensor_bytes: Option<u64>) -> Self {
        Self {
            inner: Loading::new(MammalModel::stream(device).with_tensor_limit(max_tensor_bytes)),
            device: device.clone(),
        }
    }
}

#[wasm_bindgen]
impl MammalLoader {
    /// Feeds the archive's next bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.inner.push(|load| load.push(chunk))
    }

    /// Bytes received so far.
    pub fn received(&self) -> f64 {
        self.inner.get().map_or(0.0, |l| l.received() as f64)
    }

    /// Ends the archive and returns the loaded model.
    pub fn finish(&mut self) -> Result<MammalSession, JsError> {
        let (model, files) = self.inner.take()?.finish().map_err(js_error)?;
        session(model, &files, &self.device)
    }
}

/// A prompt's tokens as `tokenize` and `run` return them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EncodingOut<'a> {
    ids: &'a [u32],
    tokens: &'a [String],
    sources: &'a [String],
    scalars: &'a [f32],
    scalars_valid: &'a [bool],
    warnings: &'a [String],
}

impl<'a> From<&'a Encoding> for EncodingOut<'a> {
    fn from(encoding: &'a Encoding) -> Self {
        Self {
            ids: &encoding.ids,
            tokens: &encoding.tokens,
            sources: &encoding.sources,
            scalars: &encoding.scalars_values,
            scalars_valid: &encoding.scalars_valid_mask,
            warnings: &encoding.warnings,
        }
    }
}

/// What `run` answers with.
#[derive(Serialize)]
struct RunOut<'a> {
    encoding: EncodingOut<'a>,
    answer: &'a Answer,
}

/// What `info` returns.
#[derive(Serialize)]
struct InfoOut<'a> {
    tasks: &'a [BundleTask],
    model: ModelOut,
    tokenizers: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelOut {
    d_model: usize,
    layers: usize,
    heads: usize,
    vocab: usize,
    parameters: usize,
}

/// What `run` is asked to do: `{kind: "generate", maxNewTokens?, beams?} | {kind: "classify",
/// classes} | {kind: "regress", mean?, std?}` (a bundle task's `readout` is one of these), read
/// by [`from_js_tagged`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum TaskRequest {
    Generate(GenerateRequest),
    Classify(ClassifyRequest),
    Regress(RegressRequest),
}

// One struct per kind: serde applies `deny_unknown_fields` to these, not to an enum's struct
// variants.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenerateRequest {
    #[serde(default = "default_new_tokens")]
    max_new_tokens: u32,
    #[serde(default = "one")]
    beams: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyRequest {
    classes: Vec<ClassToken>,
}

/// Without `mean` and `std`, the value is the head's raw output.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegressRequest {
    #[serde(default)]
    mean: f64,
    #[serde(default = "one_f64")]
    std: f64,
}

fn default_new_tokens() -> u32 {
    16
}

fn one() -> u32 {
    1
}

fn one_f64() -> f64 {
    1.0
}

/// A class: its token (`"<1>"`), or a bundle task's `[label, token]` pair.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a class token such as \"<1>\", or a [label, token] pair"
)]
enum ClassToken {
    Token(String),
    Labelled(
        #[expect(
            dead_code,
            reason = "the label is the page's; the model is asked for the token"
        )]
        String,
        String,
    ),
}

/// The most tokens `generate` may ask for, and beams: a typo cannot ask the tab for a day of
/// decoding.
const MAX_NEW_TOKENS: u32 = 512;
const MAX_BEAMS: u32 = 16;

impl TaskRequest {
    fn into_task(self) -> Result<Task, JsError> {
        let within = |field: &str, n: u32, max: u32| {
            if (1..=max).contains(&n) {
                Ok(n as usize)
            } else {
                Err(JsError::new(&format!(
                    "task.{field}: {n} is not a whole number from 1 to {max}"
                )))
            }
        };
        Ok(match self {
            Self::Generate(GenerateRequest {
                max_new_tokens,
                beams,
            }) => Task::Generate {
                max_new_tokens: within("maxNewTokens", max_new_tokens, MAX_NEW_TOKENS)?,
                num_beams: within("beams", beams, MAX_BEAMS)?,
            },
            Self::Classify(ClassifyRequest { classes }) => Task::Classify {
                classes: classes
                    .into_iter()
                    .map(|class| match class {
                        ClassToken::Token(token) | ClassToken::Labelled(_, token) => token,
                    })
                    .collect(),
            },
            Self::Regress(RegressRequest { mean, std }) => Task::Regress { mean, std },
        })
    }
}

#[wasm_bindgen]
impl MammalSession {
    /// `{tasks: [{name, title, prompt, inputs, readout}], model: {dModel, layers, heads,
    /// vocab, parameters}, tokenizers: [names]}`.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let s = &self.inner;
        let t5 = &s.model.config.t5_config;
        let parameters: usize = {
            use burn::module::Module;
            s.model.net.num_params()
        };
        to_js(&InfoOut {
            tasks: &s.info.tasks,
            model: ModelOut {
                d_model: t5.d_model,
                layers: t5.num_layers,
                heads: t5.num_heads,
                vocab: t5.vocab_size,
                parameters,
            },
            tokenizers: s.tokenizer.names(),
        })
    }

    /// A prompt's tokens: `{ids, tokens, sources, scalars, scalarsValid, warnings}`; a malformed
    /// prompt throws naming the fragment and its position.
    pub fn tokenize(&self, prompt: &str) -> Result<JsValue, JsError> {
        let encoding = self
            .inner
            .tokenizer
            .encode(prompt, EncodeOptions::default())
            .map_err(js_error)?;
        to_js(&EncodingOut::from(&encoding))
    }

    /// The prompt of the bundle's task `name` with its holes filled from `inputs`
    /// (`{SMILES: "CCO"}`).
    #[wasm_bindgen(js_name = taskPrompt)]
    pub fn task_prompt(&self, name: &str, inputs: JsValue) -> Result<String, JsError> {
        let task = self.inner.info.task(name).map_err(js_error)?;
        let inputs: std::collections::BTreeMap<String, String> = from_js("inputs", inputs)?;
        let values: Vec<(String, String)> = inputs.into_iter().collect();
        task.fill(&values).map_err(js_error)
    }

    /// Answers `prompt` with `task` (a [`TaskRequest`]; a bundle task's `readout` also works):
    /// resolves to `{encoding, answer}` where answer is `{kind: "text", text, ids, score} |
    /// {kind: "classes", text, probabilities, predicted} | {kind: "value", value, raw}`.
    pub fn run(&self, prompt: String, task: JsValue) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let task = from_js_tagged::<TaskRequest>("task", task)?.into_task()?;
            let s = &*inner;
            let encoding = s
                .tokenizer
                .encode(&prompt, EncodeOptions::default())
                .map_err(js_error)?;
            check_runnable(&encoding)?;
            let answers = answer(
                &s.model,
                &s.tokenizer,
                std::slice::from_ref(&encoding),
                &task,
                &s.device,
            )
            .await
            .map_err(js_error)?;
            let first = answers.first().ok_or_else(|| JsError::new("no answer"))?;
            Ok(to_js(&RunOut {
                encoding: EncodingOut::from(&encoding),
                answer: first,
            })?)
        })
    }
}

/// What the model can take in a tab: at most [`MAX_RUN_TOKENS`] tokens (class tokens outside
/// its vocabulary are refused by the core's `answer`).
fn check_runnable(encoding: &Encoding) -> Result<(), JsError> {
    if encoding.len() > MAX_RUN_TOKENS {
        return Err(JsError::new(&format!(
            "the prompt is {} tokens; the browser answers prompts of at most {MAX_RUN_TOKENS}",
            encoding.len()
        )));
    }
    Ok(())
}
