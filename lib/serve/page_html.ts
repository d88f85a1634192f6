/**
 * The page's HTML: a drop zone, a canvas, the numbers, and `#result` for scripts.
 *
 * @module
 */

/** The page: a drop zone, a canvas, the numbers, and `#result` holding the prediction as JSON for scripts. */
/**
 * @param withScript whether the page script is served
 * @returns the HTML
 */
export function pageHtml(withScript: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>appaunet</title>
<style>body{font:15px system-ui,sans-serif;margin:24px;max-width:900px}#drop{border:2px dashed #888;padding:24px;
text-align:center;border-radius:8px}#drop.over{background:#eef}canvas{width:min(100%,512px);height:auto;margin-top:12px}
#error{color:#b00}#status{color:#555}</style></head><body>
<h1>appaunet: lungs and TB from a chest X-ray</h1>
<p>Research software, not for diagnosis. The image stays in this browser: the model runs here.</p>
<div id="drop">Drop a PNG, JPEG or DICOM chest X-ray here, or <input id="file" type="file"
accept=".png,.jpg,.jpeg,.dcm,image/png,image/jpeg,application/dicom"></div>
<p id="status">${withScript ? "loading the model…" : "the page script is not available: start with appaunet serve"}</p>
<p id="error"></p><div id="numbers"></div><canvas id="canvas"></canvas>
<pre id="result" hidden></pre>
${withScript ? '<script type="module" src="/app.js"></script>' : ""}
</body></html>`;
}
