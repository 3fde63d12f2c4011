// Page behaviour for stratus/web/records.
export {};
