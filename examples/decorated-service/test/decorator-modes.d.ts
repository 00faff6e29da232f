// Modules compiled by test-support/decorator-modes-plugin.ts under one decorator setting; the
// tests cast them to the type of the plain module.
declare module '*?decorators=legacy'
declare module '*?decorators=standard'
