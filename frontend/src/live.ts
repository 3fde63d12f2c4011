// Live updates: one WebSocket per page (docs/live-updates.md), opened with the browser's session
// cookie and the organization the page shows. Events continue across a network drop or a
// replica restart: the client reconnects with backoff and subscribes with the last `seq` it
// processed, so the server replays what it missed (or answers `resync`).
//
// Every event is dispatched on `document` as `stratus:live` (detail: {event, seq, at, data});
// list, record and board modules listen to it. Generic behaviour for server-rendered fragments:
//   data-live-record="<kind>:<id>"  data-live-refresh="<url>"   re-fetched on an event for that record
//   data-live-kinds="<kind> ..."    data-live-refresh="<url>"   re-fetched on any event of those kinds
//   data-live-target="<kind> <record kind>:<id>"  data-live-refresh="<url>"   re-fetched on an event
//       of that kind about a thing attached to that record ("document contact:7": its documents)
// The fragment is fetched with htmx (the element's id selects it from the response) and swapped
// in place, unless it holds an open edit form (a form marked data-edit-form, or one being typed
// in): then a notice "Changed by X — Reload" is shown instead of overwriting what the user types.
import htmx from "htmx.org";

export interface LiveDetail {
  event: string;
  seq: number | null;
  at: string | null;
  data: Record<string, unknown>;
}

interface ServerMessage {
  type: string;
  seq?: number;
  event?: string;
  at?: string;
  data?: Record<string, unknown>;
  organization?: string;
  role?: string;
  reason?: string;
}

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const PING_AFTER_MS = 25_000; // the server's default heartbeat interval
const DEAD_AFTER_MS = 2 * PING_AFTER_MS + 5_000;
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403]);

let socket: WebSocket | null = null;
let organization: string | null = null;
let lastSeq: number | null = null;
let attempts = 0;
let reconnectTimer: number | undefined;
let watchdog: number | undefined;
let lastMessageAt = 0;
let subscribed = false;

function shell(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".shell[data-organization]");
}

function text(name: string, fallback: string): string {
  return shell()?.dataset[name] ?? fallback;
}

function setStatus(message: string | null): void {
  const status = document.getElementById("live-status");
  if (!status) return;
  status.textContent = message ?? "";
  status.hidden = message === null;
}

/** True while the page's socket is subscribed (events arrive): pages may stop polling then. */
export function liveUp(): boolean {
  return subscribed && socket !== null && socket.readyState === WebSocket.OPEN;
}

export function dispatchLive(detail: LiveDetail): void {
  document.dispatchEvent(new CustomEvent<LiveDetail>("stratus:live", { detail }));
}

function socketUrl(): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/`;
}

function connect(): void {
  window.clearTimeout(reconnectTimer);
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.addEventListener("open", () => {
    const subscribe: Record<string, unknown> = { type: "subscribe", organization };
    if (lastSeq !== null) subscribe.last_seq = lastSeq;
    ws.send(JSON.stringify(subscribe));
  });
  ws.addEventListener("message", (message) => {
    if (socket !== ws) return;
    lastMessageAt = Date.now();
    receive(JSON.parse(String(message.data)) as ServerMessage);
  });
  ws.addEventListener("close", (closed) => {
    if (socket !== ws) return;
    socket = null;
    subscribed = false;
    if (FINAL_CLOSE_CODES.has(closed.code)) {
      setStatus(
        closed.code === 4401
          ? text("textSignedOut", "You were signed out: reload the page to sign in again.")
          : text("textLiveStopped", "Live updates stopped: reload the page."),
      );
      return;
    }
    scheduleReconnect(closed.code === 1012);
  });
}

function scheduleReconnect(restart: boolean): void {
  if (!organization) return;
  // A replica that restarts closes every socket at once: jitter spreads the returns.
  const base = restart && attempts === 0 ? 100 : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempts);
  attempts += 1;
  if (attempts > 2) setStatus(text("textOffline", "Reconnecting… changes made meanwhile will appear."));
  reconnectTimer = window.setTimeout(connect, base / 2 + Math.random() * (base / 2));
}

function receive(message: ServerMessage): void {
  switch (message.type) {
    case "subscribed":
      attempts = 0;
      subscribed = true;
      setStatus(null);
      if (lastSeq === null && typeof message.seq === "number") lastSeq = message.seq;
      dispatchLive({ event: "live.connected", seq: lastSeq, at: null, data: {} });
      break;
    case "event": {
      const seq = message.seq ?? null;
      if (seq !== null && lastSeq !== null && seq <= lastSeq) return; // already applied
      if (seq !== null) lastSeq = seq;
      const detail = { event: message.event ?? "", seq, at: message.at ?? null, data: message.data ?? {} };
      dispatchLive(detail);
      refreshMatching(detail);
      break;
    }
    case "resync": {
      // What we missed is no longer kept: reload every live fragment, then go on from `seq`.
      if (typeof message.seq === "number") lastSeq = message.seq;
      const detail = { event: "live.resync", seq: lastSeq, at: null, data: {} };
      dispatchLive(detail);
      refreshMatching(detail);
      break;
    }
    case "access":
      dispatchLive({ event: "live.access", seq: lastSeq, at: null, data: { role: message.role } });
      break;
    default:
      break; // heartbeat, pong
  }
}

function checkAlive(): void {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const quiet = Date.now() - lastMessageAt;
  if (quiet > DEAD_AFTER_MS) {
    socket.close(); // a dead connection the browser has not noticed: the close handler reconnects
  } else if (quiet > PING_AFTER_MS) {
    socket.send(JSON.stringify({ type: "ping" }));
  }
}

/** (Re)start for the organization the page shows; stop on a page without the shell. */
export function syncLive(): void {
  const wanted = shell()?.dataset.organization ?? null;
  if (wanted === organization) return;
  const previous = socket;
  socket = null;
  subscribed = false;
  previous?.close(1000);
  window.clearTimeout(reconnectTimer);
  reconnectTimer = undefined;
  organization = wanted;
  lastSeq = null;
  attempts = 0;
  if (wanted) {
    lastMessageAt = Date.now();
    connect();
  }
}

// --- the generic fragment refresh ---------------------------------------------------------------

function kindOf(event: string): string {
  return event.split(".")[0] ?? "";
}

function matches(element: HTMLElement, detail: LiveDetail): boolean {
  if (detail.event === "live.resync") return true;
  const kind = kindOf(detail.event);
  const record = element.dataset.liveRecord;
  if (record) {
    const [recordKind, recordId] = record.split(":");
    const ids = Array.isArray(detail.data.ids) ? detail.data.ids.map(String) : [];
    if (recordKind === kind && (String(detail.data.id) === recordId || ids.includes(recordId ?? ""))) return true;
  }
  // A record's panel of things attached to it (its documents): an event about one of them names
  // the record it belongs to.
  const [targetKind, target] = (element.dataset.liveTarget ?? "").split(" ");
  if (targetKind === kind && `${String(detail.data.target_type)}:${String(detail.data.target_id)}` === target) {
    return true;
  }
  const kinds = element.dataset.liveKinds;
  return Boolean(kinds && kinds.split(/\s+/).includes(kind));
}

function hasOpenEdit(element: HTMLElement): boolean {
  if (element.querySelector("form[data-edit-form], [data-editing]")) return true;
  const active = document.activeElement;
  return Boolean(
    active && element.contains(active) && active.closest("form") && active.matches("input, textarea, select"),
  );
}

function actorName(data: Record<string, unknown>): string {
  const actor = data.actor;
  if (typeof data.actor_name === "string" && data.actor_name) return data.actor_name;
  if (typeof actor === "string" && actor) return actor;
  if (actor && typeof actor === "object" && typeof (actor as { name?: unknown }).name === "string") {
    return (actor as { name: string }).name;
  }
  return text("textSomeone", "someone else");
}

function showChangedNotice(element: HTMLElement, detail: LiveDetail): void {
  let notice = element.querySelector<HTMLElement>(":scope > .live-notice");
  if (!notice) {
    notice = document.createElement("div");
    notice.className = "live-notice";
    notice.setAttribute("role", "status");
    notice.dataset.testid = "live-notice";
    element.prepend(notice);
  }
  const words = document.createElement("span");
  words.textContent = text("textChangedBy", "Changed by %(who)s").replace("%(who)s", actorName(detail.data));
  const reload = document.createElement("button");
  reload.type = "button";
  reload.className = "button button-plain";
  reload.textContent = text("textReload", "Reload");
  reload.addEventListener("click", () => refresh(element));
  notice.replaceChildren(words, document.createTextNode(" — "), reload);
}

const pending = new Map<HTMLElement, number>();

function refresh(element: HTMLElement): void {
  const url = element.dataset.liveRefresh;
  if (!url || !element.isConnected) return;
  void htmx.ajax("get", url, {
    source: element,
    target: element,
    swap: "outerHTML",
    ...(element.id ? { select: `#${CSS.escape(element.id)}` } : {}),
  });
}

function refreshMatching(detail: LiveDetail): void {
  const hits = Array.from(document.querySelectorAll<HTMLElement>("[data-live-refresh]")).filter((el) =>
    matches(el, detail),
  );
  for (const element of hits) {
    // An enclosing fragment that refreshes too brings this one along.
    if (hits.some((other) => other !== element && other.contains(element))) continue;
    if (hasOpenEdit(element)) {
      showChangedNotice(element, detail);
      continue;
    }
    // Several events in a burst (a bulk edit) make one request.
    window.clearTimeout(pending.get(element));
    pending.set(
      element,
      window.setTimeout(() => {
        pending.delete(element);
        refresh(element);
      }, 100),
    );
  }
}

window.setInterval(checkAlive, 5_000);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") checkAlive();
});
window.addEventListener("online", () => {
  if (!socket && organization) {
    attempts = 0;
    connect();
  }
});
