// Page behaviour for stratus/web/settings: confirmations before destructive forms, and
// reordering a pipeline's stages by dragging them (the "Move up"/"Move down" buttons do the
// same without a mouse or without scripts).

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

document.addEventListener("submit", (event) => {
  const form = event.target as HTMLFormElement | null;
  const question = form?.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

let dragged: HTMLElement | null = null;
let before: HTMLElement[] = [];

function stageOf(target: EventTarget | null): HTMLElement | null {
  return (target as Element | null)?.closest<HTMLElement>("[data-stage-id]") ?? null;
}

function listOf(stage: HTMLElement): HTMLElement | null {
  return stage.closest<HTMLElement>("[data-stage-list]");
}

function stagesIn(list: HTMLElement): HTMLElement[] {
  return Array.from(list.querySelectorAll<HTMLElement>(":scope > [data-stage-id]"));
}

function announce(list: HTMLElement, text: string): void {
  let status = list.parentElement?.querySelector<HTMLElement>("[data-stage-status]");
  if (!status) {
    status = document.createElement("p");
    status.dataset.stageStatus = "";
    status.setAttribute("role", "status");
    status.className = "form-error";
    list.insertAdjacentElement("afterend", status);
  }
  status.textContent = text;
}

document.addEventListener("dragstart", (event) => {
  const stage = stageOf(event.target);
  const list = stage && listOf(stage);
  if (!stage || !list || stage.getAttribute("draggable") !== "true") return;
  dragged = stage;
  before = stagesIn(list);
  stage.classList.add("dragging");
  event.dataTransfer?.setData("text/plain", stage.dataset.stageId ?? "");
  if (event.dataTransfer) event.dataTransfer.effectAllowed = "move";
});

document.addEventListener("dragover", (event) => {
  const over = stageOf(event.target);
  if (!dragged || !over || over === dragged || listOf(over) !== listOf(dragged)) return;
  event.preventDefault();
  const box = over.getBoundingClientRect();
  const after = event.clientY > box.top + box.height / 2;
  over.insertAdjacentElement(after ? "afterend" : "beforebegin", dragged);
});

document.addEventListener("drop", (event) => {
  if (dragged) event.preventDefault();
});

document.addEventListener("dragend", () => {
  const stage = dragged;
  dragged = null;
  if (!stage) return;
  stage.classList.remove("dragging");
  const list = listOf(stage);
  if (!list) return;
  const ids = stagesIn(list).map((item) => item.dataset.stageId ?? "");
  if (ids.join(",") === before.map((item) => item.dataset.stageId).join(",")) return;
  void saveOrder(list, ids, before);
});

async function saveOrder(list: HTMLElement, ids: string[], previous: HTMLElement[]): Promise<void> {
  const url = list.dataset.reorderUrl;
  if (!url) return;
  const body = new URLSearchParams({ stage_ids: ids.join(",") });
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(String(response.status));
    // The page again, as the server now has it (positions, move buttons).
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("pipelines");
    const current = document.getElementById("pipelines");
    if (fresh && current) current.replaceWith(document.importNode(fresh, true));
  } catch {
    for (const item of previous) list.appendChild(item);
    announce(list, list.dataset.reorderError ?? "The new order could not be saved; it was put back.");
  }
}

export {};
