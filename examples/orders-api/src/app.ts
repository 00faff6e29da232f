import type { RequestListener } from 'node:http'
import { createExpressApp, type OrdersAppOptions } from './express-app.js'
import { createKoaApp } from './koa-app.js'

export { createExpressApp, type OrdersAppOptions } from './express-app.js'
export { createKoaApp } from './koa-app.js'
export { type Order, OrderBook } from './orders.js'
export { apiKeyHeader, principalId } from './principal.js'

/** Which framework serves the API. */
export type Framework = 'express' | 'koa'

/** The orders API as a plain Node request listener, on the framework asked for. */
export function createApp(
  framework: Framework = 'express',
  options: OrdersAppOptions = {},
): RequestListener {
  return framework === 'koa' ? createKoaApp(options).callback() : createExpressApp(options)
}
