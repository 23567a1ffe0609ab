//! What crosses the wasm boundary and how: requests read from JS objects into typed Rust values
//! (serde-wasm-bindgen; a wrong, missing or unknown field is an error naming its path), results
//! written back as plain JS objects, errors as one-line messages with their causes.

use wasm_bindgen::prelude::*;

/// `value` as a `T` (a request type, `deny_unknown_fields`): a wrong, missing or unknown field is
/// an error naming its path under `what` (`inputs.SMILES: invalid type: …`).
#[cfg(feature = "models")]
pub(crate) fn from_js<T: serde::de::DeserializeOwned>(
    what: &str,
    value: JsValue,
) -> Result<T, JsError> {
    let value = request_value(what, value)?;
    serde_path_to_error::deserialize(value)
        .map_err(|e| at_path(what, &e.path().to_string(), &e.inner().to_string()))
}

/// `message` at `path` (serde_path_to_error's form: `.` for the value itself, `a.b[2]`) under
/// `what`: `what.a.b[2]: message`.
fn at_path(what: &str, path: &str, message: &str) -> JsError {
    let at = match path {
        "." | "" => what.to_owned(),
        _ if path.starts_with('[') => format!("{what}{path}"),
        _ => format!("{what}.{path}"),
    };
    JsError::new(&format!("{at}: {message}"))
}

/// A request `{kind: "…", …fields}` as the enum `T`, whose variants are the kinds (camelCase),
/// each holding a `deny_unknown_fields` struct of the fields. Read as `{[kind]: fields}`, serde's
/// externally tagged form: its internally tagged enums buffer the fields first and lose their
/// paths, so a `mean: "1.5"` could not be named. Errors name the field under `what`
/// (`task.mean: …`, `task.kind: unknown variant …`).
#[cfg(any(feature = "mammal", feature = "game"))]
pub(crate) fn from_js_tagged<T: serde::de::DeserializeOwned>(
    what: &str,
    value: JsValue,
) -> Result<T, JsError> {
    let serde_json::Value::Object(mut fields) = request_value(what, value)? else {
        return Err(JsError::new(&format!(
            "{what}: not an object with a `kind`"
        )));
    };
    let kind = match fields.remove("kind") {
        Some(serde_json::Value::String(kind)) => kind,
        None => return Err(JsError::new(&format!("{what}: missing field `kind`"))),
        Some(other) => {
            return Err(JsError::new(&format!(
                "{what}.kind: {other} is not a string"
            )));
        }
    };
    let wrapped = serde_json::Value::Object([(kind, fields.into())].into_iter().collect());
    serde_path_to_error::deserialize(wrapped).map_err(|e| {
        // The path starts at the kind; the user wrote it as a field beside the others.
        let message = e.inner().to_string();
        let path = e.path().to_string();
        match path.split_once('.') {
            Some((_, fields)) if !fields.is_empty() => at_path(what, fields, &message),
            _ if message.starts_with("unknown variant") => at_path(what, "kind", &message),
            _ => at_path(what, ".", &message),
        }
    })
}

/// A request object as a JSON value, every entry read (serde-wasm-bindgen's struct reader reads
/// only the fields it knows, so an unknown one would pass unseen; and this walk is smaller code
/// than its general reader, which the CPU modules' download budget counts). `null` and
/// `undefined` fields are dropped: both mean "not given". NaN, infinities, functions, symbols,
/// big integers and typed arrays are refused, named by their path; so are nesting past
/// [`MAX_DEPTH`] (a cyclic object would recurse until the stack ran out, a trap) and lists or
/// objects past [`MAX_ENTRIES`].
#[cfg(feature = "models")]
fn request_value(what: &str, value: JsValue) -> Result<serde_json::Value, JsError> {
    use serde_json::Value;
    fn walk(at: &mut String, value: &JsValue, depth: usize) -> Result<Value, JsError> {
        if depth > MAX_DEPTH {
            return Err(JsError::new(&format!(
                "{at}: nested more than {MAX_DEPTH} deep (a request is a few levels; is it cyclic?)"
            )));
        }
        if let Some(b) = value.as_bool() {
            return Ok(Value::Bool(b));
        }
        if let Some(x) = value.as_f64() {
            // Whole numbers as integers, so an integer field takes them.
            let whole = x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0;
            return if whole && x >= 0.0 {
                Ok(Value::from(x as u64))
            } else if whole {
                Ok(Value::from(x as i64))
            } else {
                serde_json::Number::from_f64(x)
                    .map(Value::Number)
                    .ok_or_else(|| JsError::new(&format!("{at}: {x} is not a finite number")))
            };
        }
        if let Some(text) = value.as_string() {
            return Ok(Value::String(text));
        }
        if value.is_null() || value.is_undefined() {
            return Ok(Value::Null);
        }
        if js_sys::Array::is_array(value) {
            let array: &js_sys::Array = value.unchecked_ref();
            if array.length() as usize > MAX_ENTRIES {
                return Err(too_many(at, array.length()));
            }
            let mut items = Vec::with_capacity(array.length() as usize);
            for (i, item) in array.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                items.push(walk(at, &item, depth + 1)?);
                at.truncate(len);
            }
            return Ok(Value::Array(items));
        }
        // An object literal's prototype (or none): not a typed array, a Map, a class instance.
        let plain = value.is_object() && !value.is_function() && {
            let prototype = js_sys::Object::get_prototype_of(value);
            prototype.is_null()
                || prototype == js_sys::Object::get_prototype_of(&js_sys::Object::new())
        };
        if !plain {
            return Err(JsError::new(&format!(
                "{at}: not a plain value (a number, string, boolean, array or object)"
            )));
        }
        let entries = js_sys::Object::entries(value.unchecked_ref());
        if entries.length() as usize > MAX_ENTRIES {
            return Err(too_many(at, entries.length()));
        }
        let mut map = serde_json::Map::new();
        for entry in entries.iter() {
            let entry: js_sys::Array = entry.unchecked_into();
            let key = entry.get(0).as_string().unwrap_or_default();
            let item = entry.get(1);
            if item.is_null() || item.is_undefined() {
                continue;
            }
            let len = at.len();
            at.push('.');
            at.push_str(&key);
            let item = walk(at, &item, depth + 1)?;
            at.truncate(len);
            map.insert(key, item);
        }
        Ok(Value::Object(map))
    }
    fn too_many(at: &str, n: u32) -> JsError {
        JsError::new(&format!(
            "{at}: {n} entries, more than a request takes ({MAX_ENTRIES})"
        ))
    }
    walk(&mut what.to_owned(), &value, 0)
}

/// The deepest nesting a request may have.
#[cfg(feature = "models")]
const MAX_DEPTH: usize = 32;
/// The most entries one list or object of a request may have (MAMMAL's class lists are at most
/// its vocabulary, ~10⁵).
#[cfg(feature = "models")]
const MAX_ENTRIES: usize = 1 << 20;

/// `value` as a plain JS object (maps as objects, 64-bit integers as numbers; a field kept as a
/// JS value with `#[serde(with = "serde_wasm_bindgen::preserve")]`, such as a typed array, passes
/// through as it is).
#[cfg(feature = "models")]
pub(crate) fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

/// `error` and its causes, one line (see [`tessera_core::error::chain`]).
pub(crate) fn js_error(error: impl std::error::Error + 'static) -> JsError {
    JsError::new(&tessera_core::error::chain(&error))
}

/// A JS value placed in a result as it is: a typed array, so bulk numbers cross as one copy and
/// keep their element type.
#[cfg(any(feature = "rna", feature = "game"))]
#[derive(serde::Serialize)]
#[serde(transparent)]
pub(crate) struct Preserved(#[serde(with = "serde_wasm_bindgen::preserve")] pub JsValue);

/// An error whose message is its `Debug` form (burn's, which has no `Display`).
#[cfg(feature = "models")]
pub(crate) fn js_error_debug(error: impl std::fmt::Debug) -> JsError {
    JsError::new(&format!("{error:?}"))
}

/// One of the user's files as the page passes it: `{ name, bytes }`, `bytes` a `Uint8Array`.
#[cfg(any(feature = "rna", feature = "anndata"))]
#[derive(serde::Deserialize)]
pub(crate) struct NamedFile {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// The user's files as `(name, bytes)` from an array of [`NamedFile`]s; an entry without them is
/// named in the error (`files[1].bytes: …`).
#[cfg(any(feature = "rna", feature = "anndata"))]
pub(crate) fn named_files(files: JsValue) -> Result<Vec<(String, Vec<u8>)>, JsError> {
    let files: Vec<NamedFile> = from_js_direct("files", files)?;
    Ok(files.into_iter().map(|f| (f.name, f.bytes)).collect())
}

/// `value` as a `T` read directly by serde-wasm-bindgen, for values carrying bulk data: bytes
/// (`serde_bytes`) and typed arrays (`serde_wasm_bindgen::preserve`) are taken whole, not
/// through [`from_js`]'s JSON value. Errors name the field's path under `what`; fields `T` does
/// not have are not looked at (serde-wasm-bindgen reads only the ones it knows).
#[cfg(any(feature = "rna", feature = "anndata"))]
pub(crate) fn from_js_direct<T: serde::de::DeserializeOwned>(
    what: &str,
    value: JsValue,
) -> Result<T, JsError> {
    serde_path_to_error::deserialize(serde_wasm_bindgen::Deserializer::from(value)).map_err(|e| {
        let message = e.inner().to_string();
        at_path(what, &e.path().to_string(), strip_js_error(&message))
    })
}

/// serde-wasm-bindgen's message without the `Error: ` its JS error prints first.
#[cfg(any(feature = "rna", feature = "anndata"))]
fn strip_js_error(text: &str) -> &str {
    text.strip_prefix("Error: ").unwrap_or(text)
}
