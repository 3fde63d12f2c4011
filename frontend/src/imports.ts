// The import wizard's local behaviour: the file goes straight to object storage (drag and drop or
// the file input), and import progress moves with the `import.progress` live events, on the
// import's page and in the shell's indicator (every page of the member). The server renders
// every state: on a final event the fragment is fetched again.
import htmx from "htmx.org";
import { type LiveDetail, liveUp } from "./live";

const FINAL = new Set(["done", "failed", "cancelled"]);

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

// --- upload ------------------------------------------------------------------------------------

interface UploadTarget {
  url: string;
  fields: Record<string, string>;
  next: string;
  detail?: string;
  errors?: string[];
}

function showUploadError(form: HTMLFormElement, message: string): void {
  const box = form.querySelector<HTMLElement>("[data-upload-error]");
  if (box) {
    box.textContent = message;
    box.hidden = false;
  }
  form.querySelector<HTMLElement>("[data-upload-progress]")?.setAttribute("hidden", "");
  form.querySelector<HTMLButtonElement>("[data-upload-submit]")?.removeAttribute("disabled");
  form.removeAttribute("aria-busy");
}

function send(target: UploadTarget, file: File, bar: HTMLProgressElement | null): Promise<number> {
  return new Promise((resolve) => {
    const body = new FormData();
    for (const [name, value] of Object.entries(target.fields)) body.append(name, value);
    body.append("file", file); // last: S3 reads the fields before the file
    const request = new XMLHttpRequest();
    request.open("POST", target.url);
    // Stratus's own upload URL (the embedded default) is same-origin: it takes the CSRF token too.
    if (target.url.startsWith("/")) request.setRequestHeader("X-CSRFToken", csrfToken());
    request.upload.addEventListener("progress", (event) => {
      if (bar && event.lengthComputable) bar.value = Math.round((event.loaded * 100) / event.total);
    });
    request.addEventListener("load", () => resolve(request.status));
    request.addEventListener("error", () => resolve(0));
    request.send(body);
  });
}

async function upload(form: HTMLFormElement, file: File): Promise<void> {
  const words = form.dataset;
  form.querySelector<HTMLElement>("[data-upload-error]")?.setAttribute("hidden", "");
  form.querySelector<HTMLButtonElement>("[data-upload-submit]")?.setAttribute("disabled", "");
  form.setAttribute("aria-busy", "true");
  const progress = form.querySelector<HTMLElement>("[data-upload-progress]");
  const bar = progress?.querySelector("progress") ?? null;
  const label = progress?.querySelector<HTMLElement>("[data-upload-label]");
  if (label) label.textContent = (words.textUploading ?? "Uploading %(name)s…").replace("%(name)s", file.name);
  if (bar) bar.value = 0;
  progress?.removeAttribute("hidden");
  const failed = (reason: string): void =>
    showUploadError(form, (words.textFailed ?? "The upload failed: %(reason)s").replace("%(reason)s", reason));
  let target: UploadTarget;
  try {
    const response = await fetch(form.dataset.startUrl ?? "", {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      body: new URLSearchParams({ name: file.name, size: String(file.size) }),
      credentials: "same-origin",
    });
    target = (await response.json()) as UploadTarget;
    if (!response.ok) {
      failed([target.detail, ...(target.errors ?? [])].filter(Boolean).join(" "));
      return;
    }
  } catch {
    showUploadError(form, words.textNetwork ?? "The upload failed: no connection to the server.");
    return;
  }
  const status = await send(target, file, bar);
  if (status >= 200 && status < 300) {
    window.location.assign(target.next);
    return;
  }
  if (status === 0) showUploadError(form, words.textNetwork ?? "The upload failed: no connection to the server.");
  else failed(`HTTP ${status}`);
}

document.addEventListener("change", (event) => {
  const input = event.target as HTMLInputElement | null;
  const form = input?.closest<HTMLFormElement>("form[data-import-upload]");
  if (!form || input?.type !== "file" || !input.files?.[0]) return;
  void upload(form, input.files[0]);
});

document.addEventListener("submit", (event) => {
  const form = (event.target as Element | null)?.closest<HTMLFormElement>("form[data-import-upload]");
  const file = form?.querySelector<HTMLInputElement>('input[type="file"]')?.files?.[0];
  if (!form || !file) return; // no file: the server answers with the field's error
  event.preventDefault();
  void upload(form, file);
});

for (const name of ["dragenter", "dragover"]) {
  document.addEventListener(name, (event) => {
    const zone = (event.target as Element | null)?.closest?.<HTMLElement>("[data-drop-zone]");
    if (!zone) return;
    event.preventDefault();
    zone.classList.add("drop-zone-active");
  });
}

document.addEventListener("dragleave", (event) => {
  (event.target as Element | null)?.closest?.<HTMLElement>("[data-drop-zone]")?.classList.remove("drop-zone-active");
});

document.addEventListener("drop", (event) => {
  const zone = (event.target as Element | null)?.closest?.<HTMLElement>("[data-drop-zone]");
  const form = zone?.closest<HTMLFormElement>("form[data-import-upload]");
  const file = (event as DragEvent).dataTransfer?.files?.[0];
  if (!zone || !form) return;
  event.preventDefault();
  zone.classList.remove("drop-zone-active");
  if (file) void upload(form, file);
});

// --- progress ----------------------------------------------------------------------------------

function setCounts(element: HTMLElement, data: Record<string, unknown>): void {
  const total = typeof data.rows_total === "number" ? data.rows_total : null;
  const done = Number(data.rows_done ?? 0);
  element.dataset.state = String(data.state ?? "");
  const bar = element.querySelector("progress");
  if (bar && total) {
    bar.max = total;
    bar.value = Math.min(total, done);
  }
  element.querySelectorAll<HTMLElement>("[data-count]").forEach((cell) => {
    const name = cell.dataset.count ?? "";
    if (name === "rows_done") cell.textContent = total === null ? String(done) : `${done} / ${total}`;
    else if (typeof data[name] === "number") cell.textContent = String(data[name]);
  });
}

function refresh(element: HTMLElement): void {
  const url = element.dataset.refreshUrl;
  if (url && element.isConnected) void htmx.ajax("get", url, { source: element, target: element, swap: "outerHTML", select: `#${element.id}` });
}

// Imports of the organization started by someone else: the indicator need not ask again.
const notMine = new Set<string>();

function onProgress(data: Record<string, unknown>): void {
  const id = String(data.id ?? "");
  const state = String(data.state ?? "");
  const page = document.querySelector<HTMLElement>(`#import-progress[data-import-job="${CSS.escape(id)}"]`);
  if (page) {
    if (FINAL.has(state)) refresh(page);
    else setCounts(page, data);
  }
  const indicator = document.querySelector<HTMLElement>("[data-import-indicator]");
  if (!indicator) return;
  const item = indicator.querySelector<HTMLElement>(`[data-import-job="${CSS.escape(id)}"]`);
  if (item) {
    setCounts(item, data);
    const label = item.querySelector<HTMLElement>("[data-import-label]");
    const word = indicator.dataset[`text${state.charAt(0).toUpperCase()}${state.slice(1)}`];
    if (label && FINAL.has(state) && word) label.textContent = word;
  } else if (!FINAL.has(state) && !notMine.has(id)) {
    notMine.add(id); // asked once: the server renders only the member's own imports
    refresh(indicator);
  }
}

document.addEventListener("stratus:live", (event) => {
  const detail = (event as CustomEvent<LiveDetail>).detail;
  if (detail.event === "import.progress") onProgress(detail.data);
  else if (detail.event === "live.resync" || detail.event === "live.connected") {
    // Events missed while away: the server's view of the page's imports.
    const page = document.querySelector<HTMLElement>("#import-progress[data-import-job]");
    if (page && !FINAL.has(page.dataset.state ?? "")) refresh(page);
    const indicator = document.querySelector<HTMLElement>("[data-import-indicator]:not([hidden])");
    if (indicator) refresh(indicator);
  }
});

// With the socket up, progress arrives as events: the page polls only every fifth time, as a
// safety net for an event lost in a reconnect.
document.addEventListener("htmx:beforeRequest", (event) => {
  const elt = (event as CustomEvent<{ elt: Element }>).detail.elt as HTMLElement;
  if (!elt?.matches?.("#import-progress[hx-get]") || !liveUp()) return;
  const skipped = Number(elt.dataset.pollsSkipped ?? "0");
  if (skipped < 4) {
    elt.dataset.pollsSkipped = String(skipped + 1);
    event.preventDefault();
  } else {
    elt.dataset.pollsSkipped = "0";
  }
});
