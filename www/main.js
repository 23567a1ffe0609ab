// Index page: start the engine (worker + wasm) and show which backend it runs on.
import { Tessera } from "./pkg/tessera.js";

const backendChoice = new URLSearchParams(location.search).get("backend") ?? "auto";
const engine = document.getElementById("engine");
const label = document.getElementById("backend");
const note = document.getElementById("note");
const bar = document.getElementById("progress");
// The demos start on the backend chosen here.
if (backendChoice !== "auto") {
  for (const link of document.querySelectorAll("a.open")) {
    link.setAttribute("href", `${link.getAttribute("href")}?backend=${encodeURIComponent(backendChoice)}`);
  }
}

try {
  const tessera = await Tessera.create({
    backend: backendChoice,
    base: new URL("./pkg/", location.href),
    onProgress: ({ loaded, total }) => {
      bar.max = total || 1;
      bar.value = loaded;
    },
  });
  label.textContent = tessera.backend === "webgpu" ? "WebGPU" : "CPU (WebAssembly)";
  note.textContent = tessera.note;
  engine.dataset.state = tessera.backend;
  window.tessera = tessera;
} catch (error) {
  label.textContent = "unavailable";
  note.textContent = String(error.message ?? error);
  engine.dataset.state = "error";
}
bar.hidden = true;
