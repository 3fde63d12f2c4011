// Stratus browser app entry: htmx for server-rendered fragments, plus the page behaviour
// that needs local state. Loaded as a module from base.html (no inline script: CSP).
import htmx from "htmx.org";

declare global {
  interface Window {
    htmx: typeof htmx;
  }
}

window.htmx = htmx;

import "./shell";
import "./lists";
import "./records";
import "./board";
import "./settings";
import "./campaigns";
import "./imports";
import "./search";

/** htmx sends Django's CSRF token (from the page's meta tag) with every write. */
function csrfToken(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  return meta?.content ?? "";
}

document.body.addEventListener("htmx:configRequest", (event) => {
  const detail = (event as CustomEvent<{ headers: Record<string, string> }>).detail;
  detail.headers["X-CSRFToken"] = csrfToken();
});

/** The theme follows the system until the user picks one; the choice is kept per browser. */
const THEME_KEY = "stratus-theme";

function applyTheme(theme: string | null): void {
  if (theme === "light" || theme === "dark") {
    document.documentElement.dataset.theme = theme;
  } else {
    delete document.documentElement.dataset.theme;
  }
}

applyTheme(localStorage.getItem(THEME_KEY));

document.addEventListener("click", (event) => {
  const toggle = (event.target as Element | null)?.closest<HTMLButtonElement>("[data-theme-toggle]");
  if (!toggle) return;
  const dark =
    document.documentElement.dataset.theme === "dark" ||
    (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  const next = dark ? "light" : "dark";
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
  toggle.setAttribute("aria-pressed", String(next === "dark"));
});

/** The dashboard's charts: their bundle (Chart.js) is loaded only on a page that has them, from
 * the URL the page gives (data-module: the static file's URL, hashed in production). */
function loadDashboard(): void {
  const url = document.querySelector<HTMLElement>("[data-dashboard]")?.dataset.module;
  if (url) {
    void (import(url) as Promise<{ start: () => void }>).then((dashboard) => dashboard.start());
  }
}

loadDashboard();
document.body.addEventListener("htmx:afterSettle", loadDashboard);
