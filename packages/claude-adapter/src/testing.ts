export type { FakeFault, FakeStopReason } from './fake-faults.js'
export type { FakeRequestBody } from './fake-responses.js'
export {
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type FakeRequest,
  startFakeAnthropic,
} from './fake-server.js'
