// Campaign pages (stratus/web/campaigns): merge fields inserted at the cursor, and the progress
// of a sending campaign kept current. The server renders everything; this module only inserts
// text into the field being written and asks for the progress fragment again.
import htmx from "htmx.org";
import { liveUp } from "./live";

// --- merge fields ---------------------------------------------------------------------------------

/** The subject or body the user last wrote in: where a merge field goes. */
let lastTarget: HTMLInputElement | HTMLTextAreaElement | null = null;

document.addEventListener("focusin", (event) => {
  const target = event.target as Element | null;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
    if (target.hasAttribute("data-merge-target")) lastTarget = target;
  }
});

export function insertAtCursor(field: HTMLInputElement | HTMLTextAreaElement, text: string): void {
  const start = field.selectionStart ?? field.value.length;
  const end = field.selectionEnd ?? start;
  field.setRangeText(text, start, end, "end");
  field.focus();
  field.dispatchEvent(new Event("input", { bubbles: true }));
}

document.addEventListener("click", (event) => {
  const button = (event.target as Element | null)?.closest<HTMLButtonElement>("[data-merge-field]");
  if (!button) return;
  const form = button.closest("form");
  let field = lastTarget && form?.contains(lastTarget) ? lastTarget : null;
  field ??= form?.querySelector<HTMLInputElement | HTMLTextAreaElement>("[data-merge-target]") ?? null;
  if (!field) return;
  insertAtCursor(field, `{{ ${button.dataset.mergeField ?? ""} }}`);
  button.closest("details")?.removeAttribute("open");
});

// --- progress while sending -----------------------------------------------------------------------

// Progress events arrive over the WebSocket (data-live-record refreshes the fragment). Without
// the socket the fragment is asked for every two seconds; with it, every tenth second only, in
// case an event was lost in a reconnect.
const POLL_MS = 2_000;
const POLLS_PER_CHECK_WHEN_LIVE = 5;
let tick = 0;

window.setInterval(() => {
  tick += 1;
  if (liveUp() && tick % POLLS_PER_CHECK_WHEN_LIVE !== 0) return;
  for (const element of document.querySelectorAll<HTMLElement>("[data-campaign-poll]")) {
    const url = element.dataset.liveRefresh;
    if (!url || !element.id) continue;
    void htmx.ajax("get", url, { source: element, target: element, swap: "outerHTML", select: `#${element.id}` });
  }
}, POLL_MS);
