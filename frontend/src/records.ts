// Record pages (stratus/web/records): in-place edits (Escape cancels), refused forms swapped in
// with the server's messages, a clear message with a retry on network or server errors, the
// browser's time zone for due times, and documents dropped or chosen, uploaded with a progress bar
// (small files through the page, big ones directly to object storage).
import htmx from "htmx.org";

const PAGE = "[data-record-page]";
// Refusals whose body is the form again, with the messages beside the fields.
const REFUSALS = new Set([400, 409, 413, 415, 422]);

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

function statusLine(): HTMLElement | null {
  return document.querySelector<HTMLElement>("[data-record-status]");
}

/** Says what went wrong; ``retry`` (if any) gets a button that tries again. */
function announce(message: string, retry?: () => void): void {
  const line = statusLine();
  if (!line) return;
  line.textContent = message;
  line.classList.toggle("record-status-error", Boolean(retry));
  if (retry) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-plain";
    button.textContent = line.closest<HTMLElement>(PAGE)?.dataset.retryLabel ?? "Retry";
    button.addEventListener("click", () => {
      line.textContent = "";
      retry();
    });
    line.append(" ", button);
  }
}

function pageText(name: string, fallback: string): string {
  return document.querySelector<HTMLElement>(PAGE)?.dataset[name] ?? fallback;
}

function fillTimeZones(root: ParentNode): void {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
  root.querySelectorAll<HTMLInputElement>("input[data-time-zone]").forEach((input) => {
    input.value = zone;
  });
}

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = (event as CustomEvent<{ xhr: XMLHttpRequest; shouldSwap: boolean; isError: boolean; elt: Element }>)
    .detail;
  if (!detail.elt?.closest?.(PAGE)) return;
  if (REFUSALS.has(detail.xhr.status)) {
    detail.shouldSwap = true;
    detail.isError = false;
  }
});

// A live refresh of the header and fields (data-live-refresh) must not throw away a field the
// user is editing: the page says that the record changed, and the save is checked against the
// version the form carries (the server refuses a stale one with a message).
document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = (event as CustomEvent<{ target: Element; shouldSwap: boolean; requestConfig?: { verb?: string } }>)
    .detail;
  if (detail.target?.id !== "record-main" || detail.requestConfig?.verb !== "get") return;
  if (!detail.target.querySelector("form[data-inline-edit]")) return;
  detail.shouldSwap = false;
  announce(pageText("changedWhileEditing", "Someone else changed this record while you are editing it."));
});

document.addEventListener("htmx:responseError", (event) => {
  const detail = (event as CustomEvent<{ xhr: XMLHttpRequest; elt: Element }>).detail;
  if (!detail.elt?.closest?.(PAGE) || REFUSALS.has(detail.xhr.status)) return;
  if (detail.xhr.status === 403) {
    announce(pageText("forbidden", "You may not change this record."));
    return;
  }
  announce(pageText("serverError", "The server could not do this."), () => retry(detail.elt));
});

document.addEventListener("htmx:sendError", (event) => {
  const detail = (event as CustomEvent<{ elt: Element }>).detail;
  if (!detail.elt?.closest?.(PAGE)) return;
  announce(pageText("networkError", "No connection to the server."), () => retry(detail.elt));
});

function retry(elt: Element): void {
  if (elt instanceof HTMLFormElement) {
    elt.requestSubmit();
  } else if (elt instanceof HTMLElement) {
    elt.click();
  }
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const form = (event.target as Element | null)?.closest?.<HTMLFormElement>("form[data-inline-edit]");
  if (!form) return;
  event.preventDefault();
  form.querySelector<HTMLElement>("[data-inline-cancel]")?.click();
});

document.addEventListener("htmx:afterSwap", (event) => {
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  fillTimeZones(document);
  // A field's form takes the focus when it opens; the field's edit link gets it back after.
  const field = target?.closest?.(".record-field") ?? (target?.classList?.contains("record-field") ? target : null);
  if (field) {
    const control = field.querySelector<HTMLElement>(".field-form input:not([type=hidden]), .field-form select, .field-form textarea");
    (control ?? field.querySelector<HTMLElement>(".field-edit"))?.focus();
  }
});

// --- documents -----------------------------------------------------------------------------------

interface StartedUpload {
  upload: { url: string; fields: Record<string, string>; file_field: string };
  finish_url: string;
}

function post(url: string, body: FormData, progress: HTMLProgressElement | null, headers: Record<string, string> = {}): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    if (progress) {
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
      });
    }
    request.addEventListener("load", () => resolve(request));
    request.addEventListener("error", () => reject(new Error("network")));
    request.send(body);
  });
}

const PAGE_HEADERS = (): Record<string, string> => ({ "X-CSRFToken": csrfToken(), "HX-Request": "true" });

function showPanel(html: string): void {
  const panel = document.getElementById("documents-panel");
  if (!panel) return;
  htmx.swap(panel, html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 });
  fillTimeZones(document);
}

async function sha256(file: File): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function uploadOne(zone: HTMLFormElement, file: File): Promise<boolean> {
  const progress = zone.querySelector<HTMLProgressElement>("[data-upload-progress]");
  const status = zone.querySelector<HTMLElement>("[data-upload-status]");
  if (progress) {
    progress.hidden = false;
    progress.value = 0;
  }
  if (status) status.textContent = `${pageText("uploading", "Uploading")} ${file.name}…`;
  const inlineMax = Number(zone.dataset.inlineMax ?? "0");
  let answer: XMLHttpRequest;
  if (file.size <= inlineMax) {
    const body = new FormData();
    body.append("file", file, file.name);
    answer = await post(zone.action, body, progress, PAGE_HEADERS());
  } else {
    // Big files go straight to object storage, then the server verifies them (size, type, SHA-256).
    const start = new FormData();
    start.append("name", file.name);
    start.append("size", String(file.size));
    start.append("content_type", file.type || "application/octet-stream");
    start.append("sha256", await sha256(file));
    const started = await post(zone.dataset.startUrl ?? "", start, null, { "X-CSRFToken": csrfToken() });
    if (started.status !== 201) {
      if (status) status.textContent = (JSON.parse(started.responseText || "{}") as { error?: string }).error ?? "";
      if (progress) progress.hidden = true;
      return false;
    }
    const target = JSON.parse(started.responseText) as StartedUpload;
    const body = new FormData();
    for (const [name, value] of Object.entries(target.upload.fields)) body.append(name, value);
    body.append(target.upload.file_field, file, file.name);
    const sent = await post(target.upload.url, body, progress);
    if (sent.status >= 300) {
      if (status) status.textContent = pageText("uploadFailed", "The upload failed.");
      if (progress) progress.hidden = true;
      return false;
    }
    answer = await post(target.finish_url, new FormData(), null, PAGE_HEADERS());
  }
  if (answer.status >= 500) {
    if (status) status.textContent = pageText("serverError", "The server could not do this.");
    return false;
  }
  showPanel(answer.responseText);
  return answer.status < 300;
}

async function uploadAll(zone: HTMLFormElement, files: FileList | File[]): Promise<void> {
  for (const file of Array.from(files)) {
    const current = document.querySelector<HTMLFormElement>("form[data-dropzone]") ?? zone;
    try {
      if (!(await uploadOne(current, file))) return;
    } catch {
      announce(pageText("networkError", "No connection to the server."), () => void uploadAll(zone, files));
      return;
    }
  }
}

document.addEventListener("submit", (event) => {
  const zone = (event.target as Element | null)?.closest?.<HTMLFormElement>("form[data-dropzone]");
  if (!zone) return;
  const input = zone.querySelector<HTMLInputElement>("input[type=file]");
  if (!input?.files?.length) return;
  event.preventDefault();
  void uploadAll(zone, input.files);
});

document.addEventListener("change", (event) => {
  const input = event.target as HTMLInputElement | null;
  const zone = input?.closest?.<HTMLFormElement>("form[data-dropzone]");
  if (!zone || !input?.files?.length) return;
  void uploadAll(zone, input.files);
});

for (const name of ["dragenter", "dragover"]) {
  document.addEventListener(name, (event) => {
    const zone = (event.target as Element | null)?.closest?.<HTMLFormElement>("form[data-dropzone]");
    if (!zone) return;
    event.preventDefault();
    zone.classList.add("dropzone-active");
  });
}

document.addEventListener("dragleave", (event) => {
  (event.target as Element | null)?.closest?.("form[data-dropzone]")?.classList.remove("dropzone-active");
});

document.addEventListener("drop", (event) => {
  const zone = (event.target as Element | null)?.closest?.<HTMLFormElement>("form[data-dropzone]");
  if (!zone) return;
  event.preventDefault();
  zone.classList.remove("dropzone-active");
  const files = (event as DragEvent).dataTransfer?.files;
  if (files?.length) void uploadAll(zone, files);
});

document.addEventListener("DOMContentLoaded", () => fillTimeZones(document));
fillTimeZones(document);
