// Lists (stratus/web/lists): a bounded window of rows for infinite scroll, row selection for
// bulk actions, inline cell editing keys, column ordering, and j/k/Enter/e row navigation.
// The server renders every row and cell; this module only moves focus and trims the DOM.
import htmx from "htmx.org";
import { type LiveDetail, liveUp } from "./live";

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

// --- live updates (docs/live-updates.md) ---------------------------------------------------------
// A row a colleague changed is fetched again and swapped in place (or dropped when it no longer
// matches the filters); a deleted row disappears; new rows are only announced ("3 new contacts —
// Show"), so the rows the user is reading never move under them.

const LIST_OF_KIND: Record<string, string> = {
  contact: "contacts",
  company: "companies",
  deal: "deals",
  activity: "activities",
};

const announced = new Set<string>();
const rowTimers = new Map<string, number>();

function liveList(): HTMLElement | null {
  return document.querySelector<HTMLElement>("[data-live-list]");
}

function rowElement(id: string): HTMLTableRowElement | null {
  return document.querySelector<HTMLTableRowElement>(`[data-list-table] tr[data-row="${CSS.escape(id)}"]`);
}

function showNews(): void {
  const news = document.getElementById("list-news");
  const line = news?.querySelector<HTMLElement>("p");
  const words = news?.querySelector<HTMLElement>("[data-list-news-text]");
  if (!news || !line || !words) return;
  const count = announced.size;
  const template = (count === 1 ? news.dataset.one : news.dataset.many) ?? "";
  words.textContent = template.replace("{count}", count.toLocaleString());
  line.hidden = count === 0;
}

// Rows with a cell request in flight (an editor opening, a save), and when this page last saved
// a cell of each row: the live echo of one's own save is already on screen, and a row replaced
// under an editor that is opening would leave the editor nowhere to go.
const busyRows = new Set<string>();
const savedAt = new Map<string, number>();
const OWN_ECHO_MS = 3000;

function cellRow(elt: Element | null | undefined): string | null {
  const row = elt?.closest?.("td")?.closest<HTMLElement>("tr[data-row]");
  return row?.dataset.row ?? null;
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const id = cellRow((event as CustomEvent<{ elt: Element }>).detail.elt);
  if (id) busyRows.add(id);
});

document.addEventListener("htmx:afterRequest", (event) => {
  const detail = (event as CustomEvent<{ elt: Element; successful: boolean; requestConfig?: { verb?: string } }>)
    .detail;
  const id = cellRow(detail.elt);
  if (!id) return;
  busyRows.delete(id);
  if (detail.successful && detail.requestConfig?.verb === "post") savedAt.set(id, Date.now());
});

// The version (ETag) each open cell editor was rendered from, sent back with its save as
// If-Match: the server refuses the save when a colleague changed the record meanwhile.
const cellVersions = new Map<string, string>();

function cellKey(elt: Element | null | undefined): string | null {
  const id = cellRow(elt);
  const column = elt?.closest?.("td")?.getAttribute("data-column");
  return id && column ? `${id}/${column}` : null;
}

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = (event as CustomEvent<{ xhr: XMLHttpRequest; elt?: Element; requestConfig?: { elt?: Element } }>)
    .detail;
  const key = cellKey(detail.requestConfig?.elt ?? detail.elt);
  const version = detail.xhr.getResponseHeader("ETag");
  if (key && version) cellVersions.set(key, version);
});

document.addEventListener("htmx:configRequest", (event) => {
  const detail = (event as CustomEvent<{ elt: Element; verb: string; headers: Record<string, string> }>).detail;
  if (detail.verb !== "post" || !detail.elt?.matches?.(".cell-form")) return;
  const version = cellVersions.get(cellKey(detail.elt) ?? "");
  if (version) detail.headers["If-Match"] = version;
});

function settled(id: string): boolean {
  return !busyRows.has(id) && Date.now() - (savedAt.get(id) ?? 0) > OWN_ECHO_MS;
}

async function refreshRow(list: HTMLElement, id: string): Promise<void> {
  if (!rowElement(id) || !settled(id)) return;
  const url = (list.dataset.rowUrl ?? "").replace("/0/row", `/${encodeURIComponent(id)}/row`);
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } });
  } catch {
    return; // offline: the next event or a resync brings the row
  }
  const current = rowElement(id);
  if (!current || current.querySelector(".cell-form") || !settled(id)) return; // being edited
  if (response.status === 204 || response.status === 404) {
    current.remove();
    return;
  }
  if (!response.ok) return;
  const template = document.createElement("template");
  template.innerHTML = (await response.text()).trim();
  const fresh = template.content.querySelector<HTMLTableRowElement>("tr[data-row]");
  const still = rowElement(id);
  if (!fresh || !still || still.querySelector(".cell-form") || !settled(id)) return;
  const box = still.querySelector<HTMLInputElement>("input[data-row-select]");
  const freshBox = fresh.querySelector<HTMLInputElement>("input[data-row-select]");
  if (box && freshBox) freshBox.checked = box.checked;
  const hadFocus = still.contains(document.activeElement) || document.activeElement === still;
  fresh.dataset.liveChanged = "true";
  still.replaceWith(fresh);
  htmx.process(fresh);
  if (hadFocus) focusRow(fresh);
}

function scheduleRow(list: HTMLElement, id: string): void {
  // Several events for one record in a burst (a bulk edit) make one request.
  window.clearTimeout(rowTimers.get(id));
  rowTimers.set(
    id,
    window.setTimeout(() => {
      rowTimers.delete(id);
      void refreshRow(list, id);
    }, 100),
  );
}

function ids(data: Record<string, unknown>): string[] {
  if (Array.isArray(data.ids)) return data.ids.map(String);
  return data.id === undefined ? [] : [String(data.id)];
}

function onListEvent(detail: LiveDetail): void {
  const list = liveList();
  if (!list) return;
  const [kind, action] = detail.event.split(".");
  if (LIST_OF_KIND[kind ?? ""] !== list.dataset.liveList) return;
  for (const id of ids(detail.data)) {
    if (action === "deleted") {
      rowElement(id)?.remove();
      announced.delete(id);
    } else if (action === "created" || (action === "imported" && !rowElement(id))) {
      if (!rowElement(id)) announced.add(id);
    } else {
      scheduleRow(list, id); // updated, moved, imported: the row as the list shows it now
    }
  }
  showNews();
}

// A background job's progress bar (bulk edit or export), by its job id: moved by each progress
// event; when the job ends, the final word (counts, refusals, the download link or the reason it
// failed, and for a bulk edit the list refresh) comes from the server.
function onJobProgress(job: "bulk" | "export", data: Record<string, unknown>): void {
  const bar = document.querySelector<HTMLElement>(`.${job}-progress[data-${job}-job="${CSS.escape(String(data.id))}"]`);
  if (!bar) return;
  const state = String(data.state ?? "");
  if (state === "done" || state === "failed") {
    const url = bar.getAttribute("hx-get");
    bar.dataset.liveFinal = "true";
    if (url) void htmx.ajax("get", url, { source: bar, target: bar, swap: "outerHTML" });
    return;
  }
  const total = typeof data.total === "number" ? data.total : null;
  const done = Number(data.done ?? 0);
  const failed = Number(data.failed ?? 0);
  bar.dataset.state = state;
  const progress = bar.querySelector("progress");
  if (progress && total) progress.value = Math.min(100, Math.round(((done + failed) * 100) / total));
  const counts = bar.querySelector<HTMLElement>(`[data-${job}-counts]`);
  if (counts && total !== null) {
    counts.textContent = (bar.dataset.countsText ?? "")
      .replace("{done}", done.toLocaleString())
      .replace("{total}", total.toLocaleString())
      .replace("{failed}", failed.toLocaleString());
  }
}

// After a resync (the events missed while away are no longer kept) the list reloads its results
// with the same filters and sort, keeping the scroll position and the selected rows. With an
// editor open it refreshes the other rows in place instead (the save is checked by its version).
let resynced: { x: number; y: number; left: number; top: number; selected: Set<string> } | null = null;

function onResync(): void {
  const list = liveList();
  if (!list) return;
  if (list.querySelector(".cell-form")) {
    rows().forEach((row) => scheduleRow(list, row.dataset.row ?? ""));
    return;
  }
  const box = list.querySelector<HTMLElement>(".list-scroll");
  const selected = new Set(
    Array.from(list.querySelectorAll<HTMLInputElement>("input[data-row-select]:checked"), (b) => b.value),
  );
  const [left, top] = [box?.scrollLeft ?? 0, box?.scrollTop ?? 0];
  resynced = { x: window.scrollX, y: window.scrollY, left, top, selected };
  announced.clear();
  showNews();
  htmx.trigger(document.body, "listChanged");
}

document.addEventListener("htmx:afterSettle", (event) => {
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  if (!resynced || !target?.matches?.("#list-results, [data-live-list]")) return;
  const { x, y, left, top, selected } = resynced;
  resynced = null;
  const list = liveList();
  list?.querySelectorAll<HTMLInputElement>("input[data-row-select]").forEach((box) => {
    box.checked = selected.has(box.value);
  });
  updateSelectionCount();
  list?.querySelector<HTMLElement>(".list-scroll")?.scrollTo(left, top);
  window.scrollTo(x, y);
});


document.addEventListener("stratus:live", (event) => {
  const detail = (event as CustomEvent<LiveDetail>).detail;
  if (detail.event === "bulk.progress") onJobProgress("bulk", detail.data);
  else if (detail.event === "live.resync") onResync();
  else if (detail.event === "export.progress") onJobProgress("export", detail.data);
  else onListEvent(detail);
});

// With the socket up, bulk and export progress arrive as events: the bar polls only every fifth
// second, as a safety net for an event lost in a reconnect.
document.addEventListener("htmx:beforeRequest", (event) => {
  const elt = (event as CustomEvent<{ elt: Element }>).detail.elt as HTMLElement;
  if (!elt?.matches?.(".bulk-progress[data-bulk-job], .export-progress[data-export-job]")) return;
  if (elt.dataset.liveFinal || !liveUp()) return;
  const skipped = Number(elt.dataset.pollsSkipped ?? "0");
  if (skipped < 4) {
    elt.dataset.pollsSkipped = String(skipped + 1);
    event.preventDefault();
  } else {
    elt.dataset.pollsSkipped = "0";
  }
});

document.addEventListener("click", (event) => {
  if (!(event.target as Element | null)?.closest?.("[data-list-news-show]")) return;
  announced.clear();
  showNews();
  htmx.trigger(document.body, "listChanged");
});

// A list page reached by navigation starts with nothing announced.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  if (target?.querySelector?.("#list-news") && announced.size) {
    announced.clear();
    showNews();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  showBulkField();
});
showBulkField();

// `n` (shell.ts): open the creation page of the asked kind, through the page's own "New ..." link
// (viewers have none, so nothing happens for them).
document.addEventListener("stratus:create", (event) => {
  const kind = (event as CustomEvent<{ kind: string | null }>).detail.kind;
  if (!kind || !document.querySelector(".list-page")) return;
  document.querySelector<HTMLAnchorElement>(`a[data-create-kind="${CSS.escape(kind)}"]`)?.click();
});
