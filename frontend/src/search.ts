// The search page (stratus/web/search): its form updates the results with htmx and keeps the
// state in the URL; a refused search (400: the message beside the field) and an unavailable
// index (503) are states of the page, swapped in like results rather than reported as failures.
const APP = "#search-app";
const STATES = new Set([400, 503]);

interface SwapDetail {
  xhr: XMLHttpRequest;
  target: Element;
  shouldSwap: boolean;
  isError: boolean;
}

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = (event as CustomEvent<SwapDetail>).detail;
  if (!detail.target?.matches?.(APP)) return;
  if (STATES.has(detail.xhr.status)) {
    detail.shouldSwap = true;
    detail.isError = false;
  }
});

// After a swap, a field with a message is the one to fix: focus it (the message is read with it).
document.addEventListener("htmx:afterSettle", (event) => {
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  if (!target?.matches?.(APP)) return;
  const invalid = target.querySelector<HTMLElement>('[aria-invalid="true"]');
  invalid?.focus();
});
