// Page behaviour for stratus/web/shell.
export {};
