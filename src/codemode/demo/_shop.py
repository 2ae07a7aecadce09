"""The demo shop: its records, the package data they load from, and the queries on them.

A `Shop` is one in-memory copy of `data/shop.json` and `data/notes/*.md`. Every server that
`build_server()` makes owns a fresh `Shop`, so cancelling an order changes that server's
state only, never the shipped file. The data are fixed, so every query is deterministic.

Invariants:
- An order's `amount` is the sum of `quantity * unit_price` over its items, rounded to cents
  (checked on load, so a hand edit of the JSON that breaks it fails loudly).
- Lists come back sorted by id; revenue counts only orders that are not cancelled.
- The only mutation is `cancel_order`, guarded by a lock: the SDK runs sync tools on worker
  threads, so two calls may race on the same order.

Lookups of an unknown id or note raise `ShopError`, whose message names the fix; the server
turns it into an MCP tool error. Nothing here imports the MCP SDK.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Customer",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Product",
    "SalesRow",
    "SalesSummary",
    "Shop",
    "ShopError",
]

OrderStatus = Literal["open", "shipped", "cancelled"]
GroupBy = Literal["month", "product", "customer"]

CURRENCY = "EUR"
LOW_STOCK = 5
"""Stock below this many units counts as low in the inventory audit."""


class ShopError(Exception):
    """A lookup or change the shop cannot make; the message says what to do instead."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Customer(_Record):
    """A customer of the shop."""

    id: int = Field(description="Customer id.")
    name: str = Field(description="Full name.")
    email: str = Field(description="Contact e-mail address.")
    country: str = Field(description="ISO 3166 alpha-2 country code, e.g. 'DE'.")
    since: str = Field(description="Date of the first order, ISO 8601 (YYYY-MM-DD).")


class Product(_Record):
    """A product in the catalogue."""

    id: int = Field(description="Product id.")
    sku: str = Field(description="Stock keeping unit, e.g. 'CF-ETH-250'.")
    name: str = Field(description="Product name.")
    category: str = Field(description="One of 'coffee', 'tea', 'equipment', 'accessories'.")
    price: float = Field(description="Unit price in EUR.")
    stock: int = Field(description="Units in stock.")


class OrderItem(_Record):
    """One line of an order."""

    product_id: int = Field(description="Id of the product ordered.")
    quantity: int = Field(description="Units ordered.")
    unit_price: float = Field(description="Price per unit in EUR when the order was placed.")


class Order(_Record):
    """An order with its lines; `amount` is the sum of the lines."""

    id: int = Field(description="Order id.")
    customer_id: int = Field(description="Id of the customer who placed it.")
    status: OrderStatus = Field(description="'open', 'shipped' or 'cancelled'.")
    created: str = Field(description="Date placed, ISO 8601 (YYYY-MM-DD).")
    items: list[OrderItem] = Field(description="The order lines.")
    amount: float = Field(description="Total in EUR: the sum of quantity * unit_price.")


class SalesRow(_Record):
    """Revenue of one group in a sales summary."""

    key: str = Field(description="The group: 'YYYY-MM', a product name or a customer name.")
    orders: int = Field(description="Number of non-cancelled orders in the group.")
    revenue: float = Field(description="Revenue of the group in EUR.")


class SalesSummary(_Record):
    """Revenue of the non-cancelled orders, grouped."""

    group_by: str = Field(description="What the rows group by: 'month', 'product' or 'customer'.")
    currency: str = Field(description="Currency of every amount: 'EUR'.")
    rows: list[SalesRow] = Field(description="One row per group.")
    total_revenue: float = Field(description="Sum of all rows' revenue in EUR.")


def _cents(value: float) -> float:
    return round(value, 2)


def _item_total(item: OrderItem) -> float:
    return item.quantity * item.unit_price


class Shop:
    """One in-memory copy of the demo shop's data."""

    def __init__(self) -> None:
        data_dir = resources.files("codemode.demo") / "data"
        raw = json.loads((data_dir / "shop.json").read_text(encoding="utf-8"))
        self.name: str = raw["shop"]
        self.customers: dict[int, Customer] = {c["id"]: Customer(**c) for c in raw["customers"]}
        self.products: dict[int, Product] = {p["id"]: Product(**p) for p in raw["products"]}
        self.orders: dict[int, Order] = {o["id"]: Order(**o) for o in raw["orders"]}
        self.notes: dict[str, str] = {
            entry.name.removesuffix(".md"): entry.read_text(encoding="utf-8")
            for entry in sorted((data_dir / "notes").iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".md")
        }
        self._lock = threading.Lock()
        for order in self.orders.values():
            if order.amount != _cents(sum(_item_total(i) for i in order.items)):
                raise ValueError(f"shop.json: order {order.id}'s amount is not the sum of its items")

    # -- lookups -------------------------------------------------------------------------

    def customer(self, customer_id: int) -> Customer:
        """Return one customer; raise ShopError for an unknown id."""
        if customer_id not in self.customers:
            raise ShopError(f"no customer with id {customer_id}; list_customers() shows the ids")
        return self.customers[customer_id]

    def product(self, product_id: int) -> Product:
        """Return one product; raise ShopError for an unknown id."""
        if product_id not in self.products:
            raise ShopError(f"no product with id {product_id}; list_products() shows the ids")
        return self.products[product_id]

    def order(self, order_id: int) -> Order:
        """Return one order; raise ShopError for an unknown id."""
        if order_id not in self.orders:
            raise ShopError(f"no order with id {order_id}; list_orders() shows the ids")
        return self.orders[order_id]

    def note(self, name: str) -> str:
        """Return a note's markdown by name, with or without '.md'; raise ShopError if unknown."""
        key = name.strip().removesuffix(".md")
        if key not in self.notes:
            available = ", ".join(self.notes)
            raise ShopError(f"no note named {name!r}; the notes are: {available}")
        return self.notes[key]

    # -- queries -------------------------------------------------------------------------

    def find_customers(self, country: str | None = None) -> list[Customer]:
        """Customers sorted by id, optionally only those in one country (case-insensitive)."""
        wanted = None if country is None else country.strip().upper()
        return [c for _, c in sorted(self.customers.items()) if wanted in (None, c.country)]

    def find_products(self, category: str | None = None, max_price: float | None = None) -> list[Product]:
        """Products sorted by id, filtered by category (case-insensitive) and maximum price."""
        wanted = None if category is None else category.strip().lower()
        return [
            p
            for _, p in sorted(self.products.items())
            if wanted in (None, p.category) and (max_price is None or p.price <= max_price)
        ]

    def search_products(self, query: str, limit: int) -> list[Product]:
        """Products whose name, sku or category contains `query`, ignoring case."""
        needle = query.strip().lower()
        hits = [
            p
            for _, p in sorted(self.products.items())
            if needle in p.name.lower() or needle in p.sku.lower() or needle in p.category.lower()
        ]
        return hits[:limit]

    def find_orders(
        self, status: OrderStatus | None = None, customer_id: int | None = None, limit: int = 50
    ) -> list[Order]:
        """Orders sorted by id, filtered by status and customer, at most `limit` of them."""
        hits = [
            o
            for _, o in sorted(self.orders.items())
            if status in (None, o.status) and customer_id in (None, o.customer_id)
        ]
        return hits[:limit]

    def low_stock(self) -> list[Product]:
        """Products with fewer than LOW_STOCK units, sorted by id."""
        return [p for _, p in sorted(self.products.items()) if p.stock < LOW_STOCK]

    # -- revenue -------------------------------------------------------------------------

    def revenue_orders(self) -> list[Order]:
        """The orders that count towards revenue: every order not cancelled, by id."""
        return [o for _, o in sorted(self.orders.items()) if o.status != "cancelled"]

    def sales_summary(self, group_by: GroupBy = "month") -> SalesSummary:
        """Revenue of the non-cancelled orders grouped by month, product or customer.

        Months come in calendar order; products and customers by revenue, largest first. A
        product's revenue is the sum of its order lines, so product rows add up to the total.
        """
        orders = self.revenue_orders()
        revenue: dict[str, float] = defaultdict(float)
        counts: dict[str, set[int]] = defaultdict(set)
        for order in orders:
            for key, amount in self._split(order, group_by):
                revenue[key] += amount
                counts[key].add(order.id)
        rows = [SalesRow(key=k, orders=len(counts[k]), revenue=_cents(v)) for k, v in revenue.items()]
        order_key: Callable[[SalesRow], tuple[float, str]] = (
            (lambda r: (0.0, r.key)) if group_by == "month" else (lambda r: (-r.revenue, r.key))
        )
        rows.sort(key=order_key)
        total = _cents(sum(o.amount for o in orders))
        return SalesSummary(group_by=group_by, currency=CURRENCY, rows=rows, total_revenue=total)

    def _split(self, order: Order, group_by: GroupBy) -> Iterable[tuple[str, float]]:
        """The (group key, amount) pairs one order contributes to a summary."""
        if group_by == "month":
            yield order.created[:7], order.amount
        elif group_by == "customer":
            yield self.customer(order.customer_id).name, order.amount
        else:
            for item in order.items:
                yield self.product(item.product_id).name, _item_total(item)

    # -- changes -------------------------------------------------------------------------

    def cancel_order(self, order_id: int) -> Order:
        """Mark an open order cancelled and return it; raise ShopError if it is not open."""
        with self._lock:
            order = self.order(order_id)
            if order.status != "open":
                raise ShopError(
                    f"order {order_id} is {order.status}; only open orders can be cancelled"
                    " (list_orders(status='open') shows them)"
                )
            cancelled = order.model_copy(update={"status": "cancelled"})
            self.orders[order_id] = cancelled
            return cancelled
