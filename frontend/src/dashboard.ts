// The dashboard's charts (stratus/web/dashboard): Chart.js draws the numbers the server rendered
// into the page (#dashboard-data, a JSON script element); the table beside each chart holds the
// same numbers with the same links. Loaded only on the dashboard (app.ts imports it when the
// page has one), so other pages do not load Chart.js. Colours come from CSS custom properties,
// and the charts are drawn again when the theme changes.

import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import type { ActiveElement, ChartEvent } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

interface DatasetSpec {
  label: string;
  data: (number | null)[];
  links: (string | null)[];
}

interface ChartSpec {
  id: string;
  title: string;
  labels: string[];
  horizontal: boolean;
  stacked: boolean;
  currency: string;
  datasets: DatasetSpec[];
}

const drawn = new Map<HTMLCanvasElement, Chart>();

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function palette(): string[] {
  return [1, 2, 3, 4, 5, 6].map((n) => cssVar(`--chart-${n}`, "#0b5fcc"));
}

function specs(): ChartSpec[] {
  const element = document.getElementById("dashboard-data");
  if (!element?.textContent) return [];
  return JSON.parse(element.textContent) as ChartSpec[];
}

/** Where each bar is drawn (page coordinates) with its link: a stable hook for tests. */
function recordBars(canvas: HTMLCanvasElement, chart: Chart, spec: ChartSpec): void {
  const box = canvas.getBoundingClientRect();
  const bars: { x: number; y: number; link: string | null; value: number | null }[] = [];
  spec.datasets.forEach((dataset, datasetIndex) => {
    chart.getDatasetMeta(datasetIndex).data.forEach((element, index) => {
      const { x, y } = (element as unknown as BarElement).getCenterPoint(false);
      const value = dataset.data[index];
      if (value === null || value === undefined || x === null || y === null) return;
      bars.push({ x: box.left + window.scrollX + x, y: box.top + window.scrollY + y, link: dataset.links[index], value });
    });
  });
  canvas.dataset.bars = JSON.stringify(bars);
}

function money(currency: string): (value: number | string) => string {
  const format = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    style: "currency",
    currency,
    maximumFractionDigits: 0,
  });
  return (value) => format.format(Number(value));
}

function draw(canvas: HTMLCanvasElement, spec: ChartSpec): void {
  drawn.get(canvas)?.destroy();
  const frame = canvas.parentElement;
  if (frame && spec.horizontal) {
    // Sideways bars get the height their labels need (a bar per label stays readable).
    frame.style.height = `${Math.max(260, spec.labels.length * 28 + 60)}px`;
  }
  const colours = palette();
  const text = cssVar("--text", "#1b1f24");
  const grid = cssVar("--border", "#d0d7de");
  const valueAxis = spec.horizontal ? "x" : "y";
  const tick = spec.currency ? money(spec.currency) : (value: number | string) => String(value);
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map((dataset, index) => ({
        label: dataset.label,
        data: dataset.data,
        backgroundColor: colours[index % colours.length],
        borderRadius: 3,
      })),
    },
    options: {
      indexAxis: spec.horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      color: text,
      scales: {
        x: {
          stacked: spec.stacked,
          ticks: { color: text, ...(valueAxis === "x" ? { callback: tick } : {}) },
          grid: { color: grid },
        },
        y: {
          stacked: spec.stacked,
          ticks: { color: text, ...(valueAxis === "y" ? { callback: tick } : {}) },
          grid: { color: grid },
        },
      },
      plugins: {
        legend: { display: spec.datasets.length > 1, labels: { color: text } },
      },
      onHover: (event: ChartEvent, elements: ActiveElement[]) => {
        canvas.style.cursor = elements.length ? "pointer" : "default";
        void event;
      },
      onClick: (_event: ChartEvent, elements: ActiveElement[]) => {
        const hit = elements[0];
        if (!hit) return;
        const link = spec.datasets[hit.datasetIndex]?.links[hit.index];
        if (link) window.location.assign(link);
      },
    },
    plugins: [
      {
        id: "stratusBars",
        afterRender: (rendered) => recordBars(canvas, rendered as Chart, spec),
      },
    ],
  });
  drawn.set(canvas, chart);
  canvas.dataset.colour = colours[0]; // the colour it was drawn with (the theme's): a test hook
}

function drawAll(): void {
  for (const [canvas, chart] of drawn) {
    if (!canvas.isConnected) {
      chart.destroy();
      drawn.delete(canvas);
    }
  }
  for (const spec of specs()) {
    const canvas = document.querySelector<HTMLCanvasElement>(`canvas[data-chart-id="${CSS.escape(spec.id)}"]`);
    if (canvas) draw(canvas, spec);
  }
}

/** "Show as table": the table (always in the page for screen readers) is shown on screen too. */
document.addEventListener("click", (event) => {
  const toggle = (event.target as Element | null)?.closest<HTMLButtonElement>("[data-chart-toggle]");
  if (!toggle) return;
  const table = document.getElementById(toggle.getAttribute("aria-controls") ?? "");
  const body = toggle.closest<HTMLElement>("[data-dashboard]");
  if (!table || !body) return;
  const showing = toggle.getAttribute("aria-expanded") === "true";
  table.classList.toggle("visually-hidden", showing);
  toggle.setAttribute("aria-expanded", String(!showing));
  toggle.textContent = (showing ? body.dataset.textShowTable : body.dataset.textShowChart) ?? "";
});

let observing = false;

/** Draw the page's charts (app.ts calls it on load and after each htmx swap), and again when
 * the theme changes. */
export function start(): void {
  drawAll();
  if (observing) return;
  performance.mark("stratus:charts-drawn"); // when the first charts were drawn (bench/web.py)
  observing = true;
  new MutationObserver(drawAll).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-theme"],
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawAll);
}
