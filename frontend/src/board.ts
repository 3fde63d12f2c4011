// The pipeline board (stratus/web/board): drag a card to another column with a mouse or pen, or
// move it with its "Move to…" link (keyboard, touch) through one dialog. The card moves at once;
// if the server refuses, it goes back where it was and the server's message is shown. A lost
// stage asks for the reason first. Column totals come back from the server after each move.

import htmx from "htmx.org";
import type { LiveDetail } from "./live";

interface MoveAnswer {
  stage?: number;
  summaries?: Record<string, string>;
  message?: string;
  errors?: Record<string, string[]>;
}

interface PendingMove {
  card: HTMLElement;
  url: string;
  from: { list: HTMLElement; next: Element | null; stage: string };
}

const DRAG_THRESHOLD = 6;

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

function board(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".board[data-movable]");
}

function columnOf(stage: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`.board-column[data-stage="${CSS.escape(stage)}"]`);
}

/** A message of the page, translated by the server (data-*-message attributes of the board). */
function text(name: "moved" | "refused" | "offline", values: Record<string, string> = {}): string {
  const template = board()?.dataset[`${name}Message`] ?? "";
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

function say(message: string): void {
  const status = document.getElementById("board-status");
  if (status) status.textContent = message;
}

function complain(message: string): void {
  const alert = document.getElementById("board-message");
  if (alert) alert.textContent = message;
}

function moveUrl(card: HTMLElement): string {
  return card.querySelector<HTMLAnchorElement>("[data-move-link]")?.href ?? "";
}

function titleOf(card: HTMLElement): string {
  return card.querySelector(".deal-title")?.textContent?.trim() ?? "";
}

/** Put the card at the top of a column's list (before any "Show more" item). */
function placeCard(card: HTMLElement, column: HTMLElement): void {
  const list = column.querySelector<HTMLElement>(".board-cards");
  if (!list) return;
  list.insertBefore(card, list.firstElementChild);
}

function putBack(pending: PendingMove): void {
  pending.from.list.insertBefore(pending.card, pending.from.next);
  pending.card.dataset.stage = pending.from.stage;
}

function applySummaries(summaries: Record<string, string>): void {
  for (const [stage, html] of Object.entries(summaries)) {
    const current = document.getElementById(`stage-${stage}-summary`);
    if (!current) continue;
    const fresh = new DOMParser().parseFromString(html, "text/html").body.firstElementChild;
    if (fresh) current.replaceWith(fresh);
  }
}

async function send(pending: PendingMove, stage: string, lostReason: string): Promise<MoveAnswer & { ok: boolean }> {
  const body = new FormData();
  body.set("stage", stage);
  if (lostReason) body.set("lost_reason", lostReason);
  try {
    const response = await fetch(pending.url, {
      method: "POST",
      body,
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    });
    const answer = (await response.json().catch(() => ({}))) as MoveAnswer;
    return { ok: response.ok, ...answer };
  } catch {
    return { ok: false, message: text("offline") };
  }
}

/** Move the card now, then ask the server; refused: back where it was, with the message. */
async function commit(pending: PendingMove, stage: string, lostReason: string): Promise<MoveAnswer & { ok: boolean }> {
  const column = columnOf(stage);
  if (column) placeCard(pending.card, column);
  pending.card.dataset.stage = stage;
  pending.card.setAttribute("aria-busy", "true");
  complain("");
  const answer = await send(pending, stage, lostReason);
  pending.card.removeAttribute("aria-busy");
  if (answer.ok) {
    if (answer.summaries) applySummaries(answer.summaries);
    say(text("moved", { title: titleOf(pending.card), stage: column?.dataset.name ?? "" }));
  }
  return answer;
}

function refused(pending: PendingMove, answer: MoveAnswer): void {
  putBack(pending);
  const detail = answer.errors ? Object.values(answer.errors).flat().join(" ") : "";
  complain(detail || answer.message || text("refused"));
  pending.card.querySelector<HTMLElement>("[data-move-link]")?.focus();
}

// --- the move dialog: "Move to…" and the lost reason ----------------------------------------------

let dialogMove: PendingMove | null = null;

function dialogParts() {
  const dialog = document.getElementById("move-dialog") as HTMLDialogElement | null;
  const form = dialog?.querySelector<HTMLFormElement>("form") ?? null;
  const select = dialog?.querySelector<HTMLSelectElement>('select[name="stage"]') ?? null;
  const reasonField = dialog?.querySelector<HTMLElement>("[data-lost-reason]") ?? null;
  const reason = dialog?.querySelector<HTMLTextAreaElement>('textarea[name="lost_reason"]') ?? null;
  const reasonError = document.getElementById("move-lost-reason-error");
  const stageError = document.getElementById("move-stage-error");
  return { dialog, form, select, reasonField, reason, reasonError, stageError };
}

function showFieldError(element: HTMLElement | null, control: HTMLElement | null, message: string): void {
  if (!element || !control) return;
  element.textContent = message;
  element.hidden = !message;
  if (message) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", element.id);
  } else {
    control.removeAttribute("aria-invalid");
    control.removeAttribute("aria-describedby");
  }
}

function syncReason(): void {
  const { select, reasonField, reason } = dialogParts();
  if (!select || !reasonField || !reason) return;
  const lost = select.selectedOptions[0]?.dataset.kind === "lost";
  reasonField.hidden = !lost;
  reason.required = lost;
}

function openDialog(pending: PendingMove, stage: string): void {
  const { dialog, select, reason, reasonError, stageError } = dialogParts();
  if (!dialog || !select || !reason) return;
  dialogMove = pending;
  const title = dialog.querySelector("[data-move-deal]");
  if (title) title.textContent = titleOf(pending.card);
  select.value = stage;
  reason.value = "";
  showFieldError(reasonError, reason, "");
  showFieldError(stageError, select, "");
  syncReason();
  dialog.showModal();
  (select.selectedOptions[0]?.dataset.kind === "lost" ? reason : select).focus();
}

function closeDialog(): void {
  const { dialog } = dialogParts();
  const pending = dialogMove;
  dialogMove = null;
  if (dialog?.open) dialog.close();
  pending?.card.querySelector<HTMLElement>("[data-move-link]")?.focus();
}

async function submitDialog(event: SubmitEvent): Promise<void> {
  const { select, reason, reasonError, stageError } = dialogParts();
  if (!dialogMove || !select || !reason) return;
  event.preventDefault();
  const pending = dialogMove;
  const stage = select.value;
  const lost = select.selectedOptions[0]?.dataset.kind === "lost";
  if (stage === pending.from.stage && !lost) {
    closeDialog();
    return;
  }
  const answer = await commit(pending, stage, lost ? reason.value.trim() : "");
  if (answer.ok) {
    closeDialog();
    return;
  }
  // A refused field stays in the dialog beside the field; anything else puts the card back.
  const fieldErrors = answer.errors ?? {};
  if (fieldErrors.lost_reason || fieldErrors.stage) {
    putBack(pending);
    showFieldError(reasonError, reason, (fieldErrors.lost_reason ?? []).join(" "));
    showFieldError(stageError, select, (fieldErrors.stage ?? []).join(" "));
    (fieldErrors.lost_reason ? reason : select).focus();
    return;
  }
  dialogMove = null;
  dialogParts().dialog?.close();
  refused(pending, answer);
}

function pendingFor(card: HTMLElement): PendingMove | null {
  const list = card.parentElement;
  const url = moveUrl(card);
  if (!list || !url) return null;
  return { card, url, from: { list, next: card.nextElementSibling, stage: card.dataset.stage ?? "" } };
}

/** A drop (or a dialog choice) on ``stage``: a lost stage asks why first. */
async function moveTo(card: HTMLElement, stage: string): Promise<void> {
  const pending = pendingFor(card);
  if (!pending || stage === pending.from.stage) return;
  if (columnOf(stage)?.dataset.kind === "lost") {
    openDialog(pending, stage);
    return;
  }
  const answer = await commit(pending, stage, "");
  if (!answer.ok) refused(pending, answer);
}

// --- pointer dragging (mouse and pen; touch scrolls the board and uses "Move to…") --------------

interface Drag {
  card: HTMLElement;
  pointer: number;
  x: number;
  y: number;
  moving: boolean;
  over: HTMLElement | null;
  // Where the pointer is now, and the board's scroll when the drag started (the card follows both).
  clientX: number;
  clientY: number;
  scrollLeft: number;
}

const EDGE = 48; // px from the board's side where a drag scrolls the board
const EDGE_SPEED = 14; // px per frame

let drag: Drag | null = null;
let swallowClick = false;

function columnAt(x: number, y: number): HTMLElement | null {
  const hit = document.elementFromPoint(x, y);
  return hit?.closest<HTMLElement>(".board-column") ?? null;
}

function highlight(column: HTMLElement | null): void {
  if (!drag) return;
  if (drag.over === column) return;
  drag.over?.classList.remove("drop-target");
  column?.classList.add("drop-target");
  drag.over = column;
}

function follow(): void {
  if (!drag) return;
  const scroller = board();
  const shift = scroller ? scroller.scrollLeft - drag.scrollLeft : 0;
  // Script-set styles are allowed by the CSP (only style attributes in the markup are refused).
  drag.card.style.transform = `translate(${drag.clientX - drag.x + shift}px, ${drag.clientY - drag.y}px)`;
  highlight(columnAt(drag.clientX, drag.clientY));
}

/** While a card is held near a side of the board, the board scrolls that way. */
function edgeScroll(): void {
  if (!drag?.moving) return;
  const scroller = board();
  if (scroller) {
    const box = scroller.getBoundingClientRect();
    const step =
      drag.clientX < box.left + EDGE ? -EDGE_SPEED : drag.clientX > box.right - EDGE ? EDGE_SPEED : 0;
    if (step) {
      const before = scroller.scrollLeft;
      scroller.scrollLeft += step;
      if (scroller.scrollLeft !== before) follow();
    }
  }
  window.requestAnimationFrame(edgeScroll);
}

function endDrag(): void {
  if (!drag) return;
  drag.card.classList.remove("dragging");
  drag.card.style.removeProperty("transform");
  drag.over?.classList.remove("drop-target");
  drag = null;
}

document.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || event.pointerType === "touch" || !board()) return;
  const target = event.target as Element;
  const card = target.closest<HTMLElement>(".board[data-movable] .deal-card");
  if (!card || target.closest("[data-move-link], button, input, select, textarea")) return;
  drag = {
    card,
    pointer: event.pointerId,
    x: event.clientX,
    y: event.clientY,
    moving: false,
    over: null,
    clientX: event.clientX,
    clientY: event.clientY,
    scrollLeft: board()?.scrollLeft ?? 0,
  };
});

document.addEventListener("pointermove", (event) => {
  if (!drag || event.pointerId !== drag.pointer) return;
  const dx = event.clientX - drag.x;
  const dy = event.clientY - drag.y;
  if (!drag.moving) {
    if (Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
    drag.moving = true;
    drag.card.classList.add("dragging");
    window.requestAnimationFrame(edgeScroll);
  }
  event.preventDefault();
  drag.clientX = event.clientX;
  drag.clientY = event.clientY;
  follow();
});

document.addEventListener("pointerup", (event) => {
  if (!drag || event.pointerId !== drag.pointer) return;
  const { card, moving } = drag;
  const column = moving ? columnAt(event.clientX, event.clientY) : null;
  endDrag();
  if (!moving) return;
  swallowClick = true; // the click that ends a drag does not open the deal
  window.setTimeout(() => (swallowClick = false), 0);
  if (column?.dataset.stage) void moveTo(card, column.dataset.stage);
});

document.addEventListener("pointercancel", endDrag);

document.addEventListener("dragstart", (event) => {
  // The title is a link: no native link dragging on a movable card.
  if ((event.target as Element | null)?.closest?.(".board[data-movable] .deal-card")) event.preventDefault();
});

document.addEventListener(
  "click",
  (event) => {
    if (swallowClick) {
      event.preventDefault();
      event.stopPropagation();
      swallowClick = false;
      return;
    }
    const link = (event.target as Element | null)?.closest<HTMLAnchorElement>("[data-move-link]");
    const card = link?.closest<HTMLElement>(".deal-card");
    if (!link || !card || !board()) return;
    event.preventDefault();
    const pending = pendingFor(card);
    if (pending) openDialog(pending, pending.from.stage);
  },
  true,
);

document.addEventListener("change", (event) => {
  if ((event.target as Element | null)?.matches?.("#move-dialog select")) syncReason();
});

document.addEventListener("submit", (event) => {
  if ((event.target as Element | null)?.closest?.("#move-dialog")) void submitDialog(event as SubmitEvent);
});

document.addEventListener("click", (event) => {
  if ((event.target as Element | null)?.closest?.("[data-move-cancel]")) closeDialog();
});

// Escape closes the dialog (a "cancel" event): the card has not moved yet.
document.addEventListener(
  "cancel",
  (event) => {
    if ((event.target as Element | null)?.id === "move-dialog") {
      event.preventDefault();
      closeDialog();
    }
  },
  true,
);

// --- htmx fragments that show a refusal (4xx) in place, e.g. my tasks' reschedule ---------------

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = (event as CustomEvent<{ xhr: XMLHttpRequest; shouldSwap: boolean; isError: boolean }>).detail;
  const status = detail.xhr.status;
  const source = event.target as Element | null;
  if (status >= 400 && status < 500 && source?.closest?.("[data-swap-refusals]")) {
    detail.shouldSwap = true;
    detail.isError = false;
  }
});

// --- live updates: a colleague's move, new or changed deal -----------------------------------------
// On a deal event the board asks the server for that deal's card under the board's filter and for
// every column summary, then puts the card in its column (or drops it: deleted, filtered out,
// moved to another pipeline). A card the user is moving or dragging right now is left alone.

interface LiveAnswer {
  stage: number | null;
  card: string;
  summaries: Record<string, string>;
}

const DEAL_EVENTS = new Set(["deal.created", "deal.updated", "deal.moved", "deal.deleted"]);
const cardTimers = new Map<string, number>();

function liveBoard(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".board[data-live-url]");
}

function cardElement(scope: HTMLElement, id: string): HTMLElement | null {
  return scope.querySelector<HTMLElement>(`.deal-card[data-deal="${CSS.escape(id)}"]`);
}

function busy(card: HTMLElement | null): boolean {
  return Boolean(card && (card.getAttribute("aria-busy") === "true" || drag?.card === card || dialogMove?.card === card));
}

async function refreshCard(id: string): Promise<void> {
  const scope = liveBoard();
  if (!scope?.dataset.liveUrl) return;
  const url = new URL(scope.dataset.liveUrl, location.href);
  url.searchParams.set("deal", id);
  let answer: LiveAnswer;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    answer = (await response.json()) as LiveAnswer;
  } catch {
    return; // offline: the next event or a resync brings the board up to date
  }
  if (!scope.isConnected) return;
  applySummaries(answer.summaries);
  const current = cardElement(scope, id);
  if (busy(current)) return; // the user's own move decides; its answer brings the summaries
  const template = document.createElement("template");
  template.innerHTML = answer.card.trim();
  const fresh = template.content.querySelector<HTMLElement>(".deal-card");
  if (!fresh || answer.stage === null) {
    current?.remove();
    return;
  }
  const hadFocus = Boolean(current?.contains(document.activeElement));
  if (current && current.dataset.stage === String(answer.stage)) {
    current.replaceWith(fresh); // changed in place: it keeps its position in the column
  } else {
    const column = columnOf(String(answer.stage));
    current?.remove();
    if (!column) return;
    placeCard(fresh, column);
    if (current) say(text("moved", { title: titleOf(fresh), stage: column.dataset.name ?? "" }));
  }
  if (hadFocus) fresh.querySelector<HTMLElement>("[data-move-link], .deal-title")?.focus();
}

document.addEventListener("stratus:live", (event) => {
  const { event: name, data } = (event as CustomEvent<LiveDetail>).detail;
  if (!liveBoard()) return;
  if (name === "live.resync") {
    // What happened meanwhile is unknown: the board again, same filter (htmx keeps the URL).
    const url = location.pathname + location.search;
    void htmx.ajax("get", url, { target: "#main", select: "#main", swap: "outerHTML" });
    return;
  }
  if (!DEAL_EVENTS.has(name) || data.id === undefined) return;
  const id = String(data.id);
  window.clearTimeout(cardTimers.get(id));
  cardTimers.set(
    id,
    window.setTimeout(() => {
      cardTimers.delete(id);
      void refreshCard(id);
    }, 100),
  );
});

export {};

// `n` (shell.ts): open the creation page of the asked kind, through the page's own "New ..." link
// (viewers have none, so nothing happens for them).
document.addEventListener("stratus:create", (event) => {
  const kind = (event as CustomEvent<{ kind: string | null }>).detail.kind;
  if (!kind || !document.querySelector(".board-page")) return;
  document.querySelector<HTMLAnchorElement>(`a[data-create-kind="${CSS.escape(kind)}"]`)?.click();
});
