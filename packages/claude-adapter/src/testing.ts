export { type FakeFault, type FakeStopReason, mulberry32 } from './fake-faults.js'
export type { FakeRequestBody } from './fake-responses.js'
export {
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type FakeRequest,
  startFakeAnthropic,
} from './fake-server.js'
