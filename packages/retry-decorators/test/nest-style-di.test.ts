// NestJS-style dependency injection needs emitDecoratorMetadata, so this suite is compiled with
// legacy decorators (see test-support/decorator-modes-plugin.ts).
import './nest-style.suite.js?decorators=legacy'
