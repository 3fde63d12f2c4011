// Page behaviour for stratus/web/settings.
export {};
