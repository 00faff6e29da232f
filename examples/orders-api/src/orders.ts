import { randomUUID } from 'node:crypto'

/** An order as the API returns it. */
export interface Order {
  id: string
  object: 'order'
  owner: string
  item: string
  quantity: number
  status: 'pending' | 'paid' | 'shipped' | 'cancelled'
  createdAt: string
  updatedAt: string
}

/** Fields a client may send when creating or changing an order. */
export interface OrderInput {
  item?: unknown
  quantity?: unknown
  status?: unknown
}

/** A request that names no valid order fields; the app turns it into a 400 problem. */
export class InvalidOrderError extends Error {
  override readonly name = 'InvalidOrderError'
}

const statuses = new Set<Order['status']>(['pending', 'paid', 'shipped', 'cancelled'])

/**
 * The orders "database". It counts side effects, so tests can prove that a retried request did
 * not create a second order, and it can be slowed down to open a window for concurrent retries.
 */
export class OrderBook {
  private readonly orders = new Map<string, Order>()
  /** How many times a create or update actually ran (replays do not count). */
  writes = 0

  constructor(private readonly processingMs = 0) {}

  /** Creates an order owned by `owner` after the simulated payment processing time. */
  async create(owner: string, input: OrderInput): Promise<Order> {
    const item = input.item
    const quantity = input.quantity ?? 1
    if (typeof item !== 'string' || item.length === 0) {
      throw new InvalidOrderError('`item` must be a non-empty string')
    }
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1) {
      throw new InvalidOrderError('`quantity` must be a positive integer')
    }
    await this.process()
    const now = new Date().toISOString()
    const order: Order = {
      id: `ord_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      object: 'order',
      owner,
      item,
      quantity,
      status: 'pending',
      createdAt: now,
      updatedAt: now,
    }
    this.orders.set(order.id, order)
    this.writes++
    return order
  }

  /** Changes an order's quantity or status; undefined when `owner` has no such order. */
  async update(owner: string, id: string, input: OrderInput): Promise<Order | undefined> {
    const order = this.orders.get(id)
    if (!order || order.owner !== owner) return undefined
    const { quantity, status } = input
    if (quantity === undefined && status === undefined) {
      throw new InvalidOrderError('send `quantity` or `status`')
    }
    if (
      quantity !== undefined &&
      (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1)
    ) {
      throw new InvalidOrderError('`quantity` must be a positive integer')
    }
    if (status !== undefined && !statuses.has(status as Order['status'])) {
      throw new InvalidOrderError(`\`status\` must be one of ${[...statuses].join(', ')}`)
    }
    await this.process()
    const updated: Order = {
      ...order,
      ...(quantity !== undefined ? { quantity: quantity as number } : {}),
      ...(status !== undefined ? { status: status as Order['status'] } : {}),
      updatedAt: new Date().toISOString(),
    }
    this.orders.set(id, updated)
    this.writes++
    return updated
  }

  /** Looks up an order owned by `owner`. */
  get(owner: string, id: string): Order | undefined {
    const order = this.orders.get(id)
    return order && order.owner === owner ? order : undefined
  }

  private process(): Promise<void> {
    return this.processingMs > 0
      ? new Promise((resolve) => setTimeout(resolve, this.processingMs))
      : Promise.resolve()
  }
}
