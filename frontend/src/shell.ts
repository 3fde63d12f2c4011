// The app shell: command palette (Ctrl/Cmd-K), keyboard shortcuts, the user menu, toasts for
// notifications that arrive live, and the page's live-update socket (./live).
import htmx from "htmx.org";

import { type LiveDetail, syncLive } from "./live";

const GO_TO: Record<string, string> = { c: "/contacts", o: "/companies", d: "/deals", p: "/pipeline" };

function shell(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".shell");
}

function text(name: string, fallback: string): string {
  return shell()?.dataset[name] ?? fallback;
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || target.matches("input, textarea, select");
}

/** Navigate inside the shell: through a boosted link when the page has one, else a full load. */
function goTo(path: string): void {
  const link = document.querySelector<HTMLAnchorElement>(`.sidebar a[href="${CSS.escape(path)}"]`);
  if (link) link.click();
  else window.location.assign(path);
}

/** Ask the page to create a record (the list or board module handles `stratus:create`). */
function requestCreate(kind: string | null): void {
  document.dispatchEvent(new CustomEvent("stratus:create", { detail: { kind } }));
}

// --- command palette --------------------------------------------------------------------------

function palette(): HTMLDialogElement | null {
  return document.querySelector<HTMLDialogElement>("dialog#palette");
}

function paletteInput(): HTMLInputElement | null {
  return document.querySelector<HTMLInputElement>("#palette-input");
}

function options(): HTMLElement[] {
  return Array.from(document.querySelectorAll<HTMLElement>('#palette-results [role="option"]:not([aria-disabled="true"])'));
}

function setActive(option: HTMLElement | undefined): void {
  const input = paletteInput();
  for (const each of options()) each.setAttribute("aria-selected", String(each === option));
  if (option) {
    input?.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  } else {
    input?.removeAttribute("aria-activedescendant");
  }
}

function moveActive(step: number): void {
  const all = options();
  if (!all.length) return;
  const current = all.findIndex((option) => option.getAttribute("aria-selected") === "true");
  const next = current < 0 ? (step > 0 ? 0 : all.length - 1) : (current + step + all.length) % all.length;
  setActive(all[next]);
}

// The palette searches records by name (words) or passages by meaning; the choice is kept per
// browser and toggled with its button or Alt+M.
const PALETTE_MODE_KEY = "stratus-palette-mode";

function paletteMode(): "meaning" | "words" {
  return localStorage.getItem(PALETTE_MODE_KEY) === "meaning" ? "meaning" : "words";
}

function showPaletteMode(mode: "meaning" | "words"): void {
  const input = paletteInput();
  const hidden = document.querySelector<HTMLInputElement>("#palette-mode");
  const toggle = document.querySelector<HTMLButtonElement>("#palette-mode-toggle");
  if (!input || !hidden || !toggle) return;
  hidden.value = mode;
  toggle.setAttribute("aria-pressed", String(mode === "meaning"));
  const placeholder = mode === "meaning" ? input.dataset.placeholderMeaning : input.dataset.placeholderWords;
  const label = mode === "meaning" ? input.dataset.labelMeaning : input.dataset.labelWords;
  if (placeholder) input.placeholder = placeholder;
  if (label) input.setAttribute("aria-label", label);
}

function switchPaletteMode(): void {
  const next = paletteMode() === "meaning" ? "words" : "meaning";
  localStorage.setItem(PALETTE_MODE_KEY, next);
  showPaletteMode(next);
  const input = paletteInput();
  if (!input) return;
  input.focus();
  htmx.trigger(input, "palette-open", {});
}

function openPalette(initial = ""): void {
  const dialog = palette();
  const input = paletteInput();
  if (!dialog || !input) return;
  showPaletteMode(paletteMode());
  document.querySelector<HTMLDetailsElement>(".user-menu[open]")?.removeAttribute("open");
  if (!dialog.open) dialog.showModal();
  input.value = initial;
  input.focus();
  input.setSelectionRange(initial.length, initial.length);
  htmx.trigger(input, "palette-open", {});
}

/** Open a result: the click listener below records a "New ..." action, htmx follows the link. */
function choose(option: HTMLElement): void {
  option.click();
}

document.addEventListener("keydown", (event) => {
  const input = paletteInput();
  if (!input || event.target !== input) return;
  if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyM") {
    event.preventDefault();
    switchPaletteMode();
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    moveActive(event.key === "ArrowDown" ? 1 : -1);
  } else if (event.key === "Enter") {
    event.preventDefault();
    const active = options().find((option) => option.getAttribute("aria-selected") === "true");
    if (active) choose(active);
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  if (target?.id === "palette-results") setActive(options()[0]);
});

document.addEventListener("click", (event) => {
  const target = event.target as Element | null;
  const option = target?.closest<HTMLElement>('#palette-results [role="option"]');
  if (option) {
    // htmx has taken the link (boosted).
    palette()?.close();
    return;
  }
  if (target?.closest("#palette-mode-toggle")) {
    switchPaletteMode();
    return;
  }
  const dialog = target instanceof HTMLDialogElement ? target : null;
  if (dialog?.open && (dialog.id === "palette" || dialog.id === "shortcuts")) dialog.close(); // the backdrop
  if (target?.closest("[data-palette-opener]")) {
    event.preventDefault();
    openPalette((target.closest<HTMLInputElement>("input[data-palette-opener]")?.value ?? "").trim());
  }
  if (target?.closest("[data-shortcuts-open]")) {
    document.querySelector<HTMLDetailsElement>(".user-menu[open]")?.removeAttribute("open");
    document.querySelector<HTMLDialogElement>("dialog#shortcuts")?.showModal();
  }
  // The user menu closes when one clicks elsewhere.
  const menu = document.querySelector<HTMLDetailsElement>(".user-menu[open]");
  if (menu && target && !menu.contains(target)) menu.removeAttribute("open");
});

// Typing in the top bar's search field continues in the palette.
document.addEventListener("keydown", (event) => {
  const field = event.target as HTMLElement | null;
  if (!(field instanceof HTMLInputElement) || !field.matches("input[data-palette-opener]")) return;
  if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
    event.preventDefault();
    openPalette(field.value + event.key);
  } else if (event.key === "Enter" || event.key === "ArrowDown") {
    event.preventDefault();
    openPalette(field.value);
  }
});

// --- keyboard shortcuts -----------------------------------------------------------------------

let awaitingGoTo = false;
let goToTimer: number | undefined;

document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
    event.preventDefault();
    const dialog = palette();
    if (dialog?.open) dialog.close();
    else openPalette();
    return;
  }
  if (event.key === "Escape") {
    document.querySelector<HTMLDetailsElement>(".user-menu[open]")?.removeAttribute("open");
    return;
  }
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  if (document.querySelector("dialog[open]")) return;
  if (awaitingGoTo) {
    awaitingGoTo = false;
    window.clearTimeout(goToTimer);
    const path = GO_TO[event.key];
    if (path) {
      event.preventDefault();
      goTo(path);
    }
    return;
  }
  if (event.key === "?") {
    event.preventDefault();
    document.querySelector<HTMLDialogElement>("dialog#shortcuts")?.showModal();
  } else if (event.key === "g") {
    awaitingGoTo = true;
    goToTimer = window.setTimeout(() => {
      awaitingGoTo = false;
    }, 1500);
  } else if (event.key === "n") {
    event.preventDefault();
    requestCreate(document.querySelector<HTMLElement>("[data-create-kind]")?.dataset.createKind ?? null);
  }
});

// --- notifications: the badge and a toast on every open page of the user -----------------------

function toast(title: string, action?: HTMLElement, testid = "toast"): HTMLElement | null {
  const region = document.getElementById("toasts");
  if (!region) return null;
  const item = document.createElement("div");
  item.className = "toast";
  item.dataset.testid = testid;
  const words = document.createElement("p");
  words.className = "toast-title";
  words.textContent = title;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "button button-plain toast-dismiss";
  dismiss.textContent = text("textDismiss", "Dismiss");
  dismiss.addEventListener("click", () => item.remove());
  item.append(words, ...(action ? [action] : []), dismiss);
  region.append(item);
  htmx.process(item); // a link in it is boosted like the others
  window.setTimeout(() => item.remove(), 30_000);
  return item;
}

function notificationToast(title: string): void {
  const link = document.createElement("a");
  link.href = "/notifications";
  link.textContent = text("textOpenNotifications", "Open notifications");
  toast(title, link);
}

// --- a server or network error: a message, and a retry for what only reads -----------------------

interface FailedRequest {
  elt: Element;
  target: Element;
  requestConfig: { verb: string; path: string };
}

function requestFailed(event: Event, message: string): void {
  const detail = (event as CustomEvent<FailedRequest>).detail;
  const { verb, path } = detail.requestConfig;
  let retry: HTMLElement | undefined;
  if (verb === "get") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = text("textRetry", "Retry");
    retry = button;
  }
  const item = toast(message, retry, "request-error");
  item?.setAttribute("role", "alert");
  retry?.addEventListener("click", () => {
    item?.remove();
    void htmx.ajax("get", path, { source: detail.elt, target: detail.target });
  });
}

document.addEventListener("htmx:responseError", (event) =>
  requestFailed(event, text("textServerError", "The server could not answer. Nothing was changed.")),
);
document.addEventListener("htmx:sendError", (event) =>
  requestFailed(event, text("textNetworkError", "No connection to the server. Nothing was changed.")),
);

document.addEventListener("stratus:live", (event) => {
  const { event: name, data } = (event as CustomEvent<LiveDetail>).detail;
  if (name !== "notification.created") return;
  if (String(data.user_id) !== shell()?.dataset.user) return;
  notificationToast(String(data.title ?? ""));
  if (document.getElementById("notification-badge")) {
    void htmx.ajax("get", "/notifications/badge", { target: "#notification-badge", swap: "outerHTML" });
  }
});

// --- every page (first load and each boosted swap) ----------------------------------------------

function pageReady(): void {
  syncLive();
  const theme = document.documentElement.dataset.theme;
  const dark = theme === "dark" || (!theme && matchMedia("(prefers-color-scheme: dark)").matches);
  document.querySelector("[data-theme-toggle]")?.setAttribute("aria-pressed", String(dark));
}

document.addEventListener("htmx:afterSettle", (event) => {
  const target = (event as CustomEvent<{ target: Element }>).detail.target;
  if (target === document.body) pageReady();
});
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", pageReady);
else pageReady();
