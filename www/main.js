// Index page: start the engine (worker + wasm) and show which backend it runs on.
import { startEngine } from "./engine.js";

const backendChoice = new URLSearchParams(location.search).get("backend") ?? "auto";
const bar = document.getElementById("progress");
// The demos start on the backend chosen here.
if (backendChoice !== "auto") {
  for (const link of document.querySelectorAll("a.open")) {
    link.setAttribute("href", `${link.getAttribute("href")}?backend=${encodeURIComponent(backendChoice)}`);
  }
}

try {
  await startEngine({
    backend: backendChoice,
    family: "rna",
    onProgress: ({ loaded, total }) => {
      bar.max = total || 1;
      bar.value = loaded;
    },
  });
} catch {
  // startEngine has shown why.
}
bar.hidden = true;
