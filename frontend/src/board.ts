// Page behaviour for stratus/web/board.
export {};
