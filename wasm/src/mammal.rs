//! MAMMAL in the browser: a bundle (config, weights, `tokenizer/`, optional `tessera.json` with
//! its fine-tuned tasks) becomes a [`MammalSession`] that tokenizes prompts (with each token's
//! sub-tokenizer, for colouring) and answers them — text, class probabilities or a value.
//!
//! Results cross as JSON-shaped JS objects; nothing here may panic on input. Prompts go through
//! the core tokenizer (linear in their length, warnings and padding bounded); a prompt the
//! model would answer is also bounded in tokens ([`MAX_RUN_TOKENS`]), so a hostile page input
//! is an error, never a trap.

use std::rc::Rc;

use burn::tensor::Device;
use js_sys::Promise;
use serde_json::{Value, json};
use tessera_core::bundle::BundleFiles;
use tessera_core::models::mammal::finetune::MammalInfo;
use tessera_core::models::mammal::task::{Answer, Task, answer};
use tessera_core::models::mammal::{MammalModel, MammalStreamLoad};
use tessera_core::tokenize::mammal::{EncodeOptions, Encoding, ModularTokenizer};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{Loading, js_error};

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

fn to_js(value: &Value) -> Result<JsValue, JsError> {
    js_sys::JSON::parse(&value.to_string()).map_err(|_| JsError::new("internal: bad JSON"))
}

/// A plain JS object as JSON (`null` for anything JSON cannot hold).
fn from_js(value: &JsValue) -> Value {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn encoding_json(encoding: &Encoding) -> Value {
    json!({
        "ids": encoding.ids,
        "tokens": encoding.tokens,
        "sources": encoding.sources,
        "scalars": encoding.scalars_values,
        "scalarsValid": encoding.scalars_valid_mask,
        "warnings": encoding.warnings,
    })
}

/// `{kind: "generate", maxNewTokens?, beams?} | {kind: "classify", classes: [token…]} |
/// {kind: "regress", mean, std}` → a core task.
fn parse_task(task: &Value) -> Result<Task, String> {
    let number = |key: &str, default: f64| task.get(key).and_then(Value::as_f64).unwrap_or(default);
    match task.get("kind").and_then(Value::as_str) {
        // Bounded so a typo cannot ask the tab for a day of decoding.
        Some("generate") => Ok(Task::Generate {
            max_new_tokens: number("maxNewTokens", 16.0).clamp(1.0, 512.0) as usize,
            num_beams: number("beams", 1.0).clamp(1.0, 16.0) as usize,
        }),
        Some("classify") => Ok(Task::Classify {
            classes: task
                .get("classes")
                .and_then(Value::as_array)
                .ok_or("classify needs `classes`: class tokens such as \"<1>\"")?
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .ok_or("a class token is not a string")
                })
                .collect::<Result<_, _>>()?,
        }),
        Some("regress") => Ok(Task::Regress {
            mean: number("mean", 0.0),
            std: number("std", 1.0),
        }),
        other => Err(format!(
            "task kind {other:?}: expected \"generate\", \"classify\" or \"regress\""
        )),
    }
}

fn answer_json(answer: &Answer) -> Value {
    match answer {
        Answer::Text { ids, text, score } => {
            json!({"kind": "text", "ids": ids, "text": text, "score": score})
        }
        Answer::Classes {
            text,
            probabilities,
            predicted,
        } => {
            json!({"kind": "classes", "text": text, "probabilities": probabilities, "predicted": predicted})
        }
        Answer::Value { value, raw } => json!({"kind": "value", "value": value, "raw": raw}),
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
        to_js(&json!({
            "tasks": serde_json::to_value(&s.info.tasks).map_err(js_error)?,
            "model": {
                "dModel": t5.d_model,
                "layers": t5.num_layers,
                "heads": t5.num_heads,
                "vocab": t5.vocab_size,
                "parameters": parameters,
            },
            "tokenizers": s.tokenizer.names(),
        }))
    }

    /// A prompt's tokens: `{ids, tokens, sources, scalars, scalarsValid, warnings}`; a malformed
    /// prompt throws naming the fragment and its position.
    pub fn tokenize(&self, prompt: &str) -> Result<JsValue, JsError> {
        let encoding = self
            .inner
            .tokenizer
            .encode(prompt, EncodeOptions::default())
            .map_err(js_error)?;
        to_js(&encoding_json(&encoding))
    }

    /// The prompt of the bundle's task `name` with its holes filled from `inputs`
    /// (`{SMILES: "CCO"}`).
    #[wasm_bindgen(js_name = taskPrompt)]
    pub fn task_prompt(&self, name: &str, inputs: JsValue) -> Result<String, JsError> {
        let task = self.inner.info.task(name).map_err(js_error)?;
        let inputs = from_js(&inputs);
        let values: Vec<(String, String)> = inputs
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        task.fill(&values).map_err(js_error)
    }

    /// Answers `prompt` with `task` (see `parse_task`; a bundle task's `readout` also works):
    /// resolves to `{encoding, answer}` where answer is `{kind: "text", text, ids, score} |
    /// {kind: "classes", text, probabilities, predicted} | {kind: "value", value, raw}`.
    pub fn run(&self, prompt: String, task: JsValue) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let task = readout_task(&from_js(&task)).map_err(|e| JsError::new(&e))?;
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
            Ok(to_js(
                &json!({"encoding": encoding_json(&encoding), "answer": answer_json(first)}),
            )?)
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

/// A task object, or a bundle task's readout (`{kind: "classify", classes: [[label, token]…]}`).
fn readout_task(task: &Value) -> Result<Task, String> {
    if let Some(pairs) = task.get("classes").and_then(Value::as_array)
        && pairs.iter().all(Value::is_array)
    {
        let tokens: Vec<Value> = pairs.iter().filter_map(|p| p.get(1).cloned()).collect();
        return parse_task(&json!({"kind": "classify", "classes": tokens}));
    }
    parse_task(task)
}
