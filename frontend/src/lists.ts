// Lists: column choice, inline edit, selection, infinite scroll (stratus/web/lists).
export {};
