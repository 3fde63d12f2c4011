// Lists (stratus/web/lists): a bounded window of rows for infinite scroll, row selection for
// bulk actions, inline cell editing keys, column ordering, and j/k/Enter/e row navigation.
// The server renders every row and cell; this module only moves focus and trims the DOM.
import htmx from "htmx.org";

/** Pages of rows kept in the DOM; beyond this, pages far from the viewport are dropped. */
export const MAX_PAGES = 4;

let lastSentinel: "next" | "previous" | null = null;
let lastChecked: HTMLInputElement | null = null;

function table(): HTMLTableElement | null {
  return document.querySelector<HTMLTableElement>("[data-list-table]");
}

function bulkForm(): HTMLFormElement | null {
  return document.getElementById("bulk-form") as HTMLFormElement | null;
}

function columnSpan(list: HTMLTableElement): number {
  return list.tHead?.rows[0]?.cells.length ?? 1;
}

/** A sentinel that fetches the rows at ``url`` when it scrolls into view. */
function sentinel(list: HTMLTableElement, url: string, direction: "next" | "previous"): HTMLElement {
  const body = document.createElement("tbody");
  body.className = "list-sentinel";
  body.dataset.sentinel = direction;
  body.setAttribute("hx-get", url);
  body.setAttribute("hx-trigger", "intersect once");
  body.setAttribute("hx-swap", "outerHTML");
  const row = body.insertRow();
  const cell = row.insertCell();
  cell.colSpan = columnSpan(list);
  cell.textContent = "…";
  return body;
}

/** Keep the selection of rows that leave the DOM, as hidden inputs of the bulk form. */
function keepSelection(page: Element): void {
  const form = bulkForm();
  if (!form) return;
  page.querySelectorAll<HTMLInputElement>("input[data-row-select]:checked").forEach((box) => {
    const kept = document.createElement("input");
    kept.type = "hidden";
    kept.name = "ids";
    kept.value = box.value;
    kept.dataset.keptId = box.value;
    form.append(kept);
  });
}

function restoreSelection(scope: ParentNode): void {
  const form = bulkForm();
  if (!form) return;
  scope.querySelectorAll<HTMLInputElement>("input[data-row-select]").forEach((box) => {
    const kept = form.querySelector(`input[data-kept-id="${CSS.escape(box.value)}"]`);
    if (kept) {
      box.checked = true;
      kept.remove();
    }
  });
}

/** Drop pages far from where the user scrolls so the DOM stays bounded (MAX_PAGES pages). */
export function trim(list: HTMLTableElement, direction: "next" | "previous"): void {
  let pages = list.querySelectorAll<HTMLElement>("tbody[data-rows]");
  while (pages.length > MAX_PAGES) {
    if (direction === "next") {
      const first = pages[0];
      list.querySelector('tbody[data-sentinel="previous"]')?.remove();
      keepSelection(first);
      first.remove();
      const newFirst = list.querySelector<HTMLElement>("tbody[data-rows]");
      const url = newFirst?.dataset.previousUrl;
      if (newFirst && url) {
        const top = sentinel(list, url, "previous");
        newFirst.before(top);
        htmx.process(top);
      }
    } else {
      const last = pages[pages.length - 1];
      list.querySelector('tbody[data-sentinel="next"]')?.remove();
      keepSelection(last);
      last.remove();
      const all = list.querySelectorAll<HTMLElement>("tbody[data-rows]");
      const newLast = all[all.length - 1];
      const url = newLast?.dataset.nextUrl;
      if (newLast && url) {
        const bottom = sentinel(list, url, "next");
        newLast.after(bottom);
        htmx.process(bottom);
      }
    }
    pages = list.querySelectorAll<HTMLElement>("tbody[data-rows]");
  }
}

function updateSelectionCount(): void {
  const form = bulkForm();
  const label = document.querySelector<HTMLElement>("[data-selection-count]");
  if (!form || !label) return;
  const every = form.querySelector<HTMLInputElement>("[data-select-all-matching]")?.checked;
  const chosen =
    document.querySelectorAll("input[data-row-select]:checked").length +
    form.querySelectorAll("input[data-kept-id]").length;
  // The words come translated from the page (data-none, data-one, data-many with {count}, data-all).
  const words = label.dataset;
  label.textContent = every
    ? (words.all ?? "")
    : chosen === 0
      ? (words.none ?? "")
      : chosen === 1
        ? (words.one ?? "")
        : (words.many ?? "").replace("{count}", String(chosen));
}

function showBulkField(): void {
  const action = document.querySelector<HTMLSelectElement>("[data-bulk-action]");
  if (!action) return;
  document.querySelectorAll<HTMLElement>("[data-bulk-field]").forEach((field) => {
    field.hidden = field.dataset.bulkField !== action.value;
  });
}

// --- events --------------------------------------------------------------------------------------

// A filter form leaves its empty fields out of the URL it pushes (they filter nothing anyway).
document.addEventListener("htmx:configRequest", (event) => {
  const detail = (event as CustomEvent<{ elt: Element; formData: FormData }>).detail;
  if (!detail.elt?.matches?.(".list-filters")) return;
  const empty = Array.from(detail.formData.entries())
    .filter(([, value]) => value === "")
    .map(([name]) => name);
  empty.forEach((name) => detail.formData.delete(name));
});

/** The cell whose editor was saved or cancelled: its edit button gets the focus back. */
let leftEditor: { row: string; column: string } | null = null;

document.addEventListener("htmx:beforeRequest", (event) => {
  const elt = (event as CustomEvent<{ elt: Element }>).detail.elt as HTMLElement;
  const direction = elt?.dataset?.sentinel;
  lastSentinel = direction === "next" || direction === "previous" ? direction : null;
  const cell = elt?.closest?.(".cell-form")?.closest("td");
  const row = cell?.closest<HTMLElement>("tr[data-row]");
  leftEditor = cell && row ? { row: row.dataset.row ?? "", column: cell.dataset.column ?? "" } : null;
});

function refocusCell(): void {
  if (!leftEditor) return;
  const { row, column } = leftEditor;
  const cell = document.querySelector(
    `tr[data-row="${CSS.escape(row)}"] td[data-column="${CSS.escape(column)}"]`,
  );
  if (!cell || cell.querySelector(".cell-form")) return; // still editing: the message is shown
  leftEditor = null;
  const active = document.activeElement;
  if (!active || active === document.body) cell.querySelector<HTMLElement>("[data-cell-edit]")?.focus();
}

/** After a page of rows arrives: restore kept selections and drop pages far away. */
function afterPage(): void {
  const list = table();
  if (list && lastSentinel) {
    const direction = lastSentinel;
    lastSentinel = null;
    restoreSelection(list);
    trim(list, direction);
  }
}

// On swap (before the browser paints the new rows) so the DOM never holds more than the window.
document.addEventListener("htmx:afterSwap", afterPage);

document.addEventListener("htmx:afterSettle", (event) => {
  afterPage();
  refocusCell();
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  const editor = target?.closest?.("td")?.querySelector<HTMLElement>(".cell-form input, .cell-form select");
  if (editor && document.activeElement !== editor) editor.focus();
  showBulkField();
  updateSelectionCount();
});

document.addEventListener("click", (event) => {
  const target = event.target as HTMLElement | null;
  if (!target) return;
  const mouse = event as MouseEvent;
  const box = target.closest<HTMLInputElement>("input[data-row-select]");
  if (box) {
    if (mouse.shiftKey && lastChecked && lastChecked !== box && lastChecked.isConnected) {
      const boxes = Array.from(document.querySelectorAll<HTMLInputElement>("input[data-row-select]"));
      const [from, to] = [boxes.indexOf(lastChecked), boxes.indexOf(box)].sort((a, b) => a - b);
      boxes.slice(from, to + 1).forEach((b) => (b.checked = box.checked));
    }
    lastChecked = box;
    updateSelectionCount();
    return;
  }
  const page = target.closest<HTMLInputElement>("input[data-select-page]");
  if (page) {
    document.querySelectorAll<HTMLInputElement>("input[data-row-select]").forEach((b) => (b.checked = page.checked));
    updateSelectionCount();
    return;
  }
  const move = target.closest<HTMLButtonElement>("[data-column-move]");
  if (move) {
    const item = move.closest("li");
    if (!item) return;
    if (move.dataset.columnMove === "up" && item.previousElementSibling) {
      item.previousElementSibling.before(item);
    } else if (move.dataset.columnMove === "down" && item.nextElementSibling) {
      item.nextElementSibling.after(item);
    }
    move.focus();
    return;
  }
  // A click on a cell (not on its link or a control) edits it, when it can be edited.
  const cell = target.closest("td");
  if (cell && !target.closest("a, button, input, select, textarea, label, form")) {
    cell.querySelector<HTMLButtonElement>("[data-cell-edit]")?.click();
  }
});

document.addEventListener("change", (event) => {
  const target = event.target as HTMLElement;
  if (target.matches("[data-bulk-action]")) showBulkField();
  if (target.matches("[data-select-all-matching]")) updateSelectionCount();
});

// --- keyboard ------------------------------------------------------------------------------------

function rows(): HTMLTableRowElement[] {
  return Array.from(document.querySelectorAll<HTMLTableRowElement>("tr[data-row]"));
}

function focusedRow(): HTMLTableRowElement | null {
  return (document.activeElement as HTMLElement | null)?.closest<HTMLTableRowElement>("tr[data-row]") ?? null;
}

function focusRow(row: HTMLTableRowElement | undefined): void {
  if (!row) return;
  row.tabIndex = -1;
  row.focus();
  row.scrollIntoView({ block: "nearest" });
}

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

document.addEventListener("keydown", (event) => {
  const target = event.target as HTMLElement;
  const form = target.closest?.(".cell-form");
  if (form) {
    if (event.key === "Escape") {
      event.preventDefault();
      form.querySelector<HTMLButtonElement>("[data-cell-cancel]")?.click();
    } else if (event.key === "Enter" && target.tagName === "SELECT") {
      event.preventDefault();
      (form as HTMLFormElement).requestSubmit();
    }
    return;
  }
  if (typing(target) || event.ctrlKey || event.metaKey || event.altKey || !table()) return;
  const all = rows();
  const current = focusedRow();
  const index = current ? all.indexOf(current) : -1;
  if (event.key === "j") {
    event.preventDefault();
    focusRow(all[Math.min(index + 1, all.length - 1)]);
  } else if (event.key === "k") {
    event.preventDefault();
    focusRow(all[Math.max(index - 1, 0)]);
  } else if (event.key === "Enter" && current && target === current) {
    event.preventDefault();
    current.querySelector<HTMLAnchorElement>("a[data-row-link]")?.click();
  } else if (event.key === "e" && current) {
    event.preventDefault();
    current.querySelector<HTMLButtonElement>("[data-cell-edit]")?.click();
  } else if (event.key === "x" && current) {
    const box = current.querySelector<HTMLInputElement>("input[data-row-select]");
    if (box) {
      event.preventDefault();
      box.click();
    }
  }
});

document.addEventListener("DOMContentLoaded", () => {
  showBulkField();
});
showBulkField();
