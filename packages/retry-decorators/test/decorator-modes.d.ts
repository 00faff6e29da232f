// Modules compiled by test-support/decorator-modes-plugin.ts under one decorator setting.
declare module '*?decorators=legacy' {
  export const decoratorMode: 'legacy' | 'standard'
}
declare module '*?decorators=standard' {
  export const decoratorMode: 'legacy' | 'standard'
}
