"""The demo MCP server: thirteen tools over one in-memory `Shop`, built on the SDK's MCPServer.

The tools are methods of `DemoTools`, so each server built by `build_server()` has its own
shop and its own state. Their names, arguments and results are a contract that the tests,
the examples and the notebooks rely on: change them only together.

Things the SDK does that shape this module:
- MCPServer resolves annotations with `eval_str=True` against the function's globals, so
  `from __future__ import annotations` works as long as every name in a tool's signature
  (Context, Field, the models) is a module-level name here.
- A tool's description is its `__doc__` as is; we pass `inspect.cleandoc` of it so method
  docstrings arrive without their indentation. Argument descriptions come from `Field`.
- Sync tools run on worker threads; `Shop.cancel_order` holds a lock for that reason.
- `MCPServer()` calls `logging.basicConfig`; `build_server` undoes that so building a server
  inside a kernel or a test never reconfigures the host's root logger. `main` sets up
  logging on stderr itself (stdout is the protocol in stdio mode).
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import ToolAnnotations
from pydantic import Field

from codemode._version import __version__
from codemode.demo._chart import bar_chart_png
from codemode.demo._shop import (
    LOW_STOCK,
    Customer,
    Order,
    OrderStatus,
    Product,
    SalesSummary,
    Shop,
    ShopError,
)

__all__ = ["DemoTools", "build_server"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

INSTRUCTIONS = (
    "Customers, products, orders and notes of a small coffee shop (fixed demo data, EUR), "
    "for trying out tools that list, look up, summarise, chart and change records."
)
STEP_PAUSE = 0.01
"""Seconds between build_report's steps: long enough for progress to arrive one at a time."""

READ_ONLY = ToolAnnotations(read_only_hint=True)
DESTRUCTIVE = ToolAnnotations(destructive_hint=True)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Turn the shop's lookup errors into MCP tool errors (`isError: true` with the message)."""
    try:
        yield
    except ShopError as exc:
        raise ToolError(str(exc)) from exc


async def _log(ctx: Context, level: Literal["info", "warning"], message: str) -> None:
    """Send one `notifications/message` to the client that made this request.

    The SDK marks MCP logging deprecated (SEP-2577) and warns on every `ctx.info(...)`; the
    demo exists to exercise it, so the warning is silenced for the call. The deprecated
    wrapper warns when called, not when awaited, so the filter only has to cover creating
    the coroutine: no await happens inside `catch_warnings`, whose state is process-global.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        pending = ctx.request_context.session.send_log_message(
            level=level, data=message, logger="demo", related_request_id=ctx.request_id
        )
    await pending


class DemoTools:
    """The demo server's tools, bound to one shop. Each method's docstring is its description."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def list_customers(
        self,
        country: Annotated[
            str | None, Field(description="Only customers in this country (ISO code such as 'DE'; any case).")
        ] = None,
    ) -> list[Customer]:
        """List the shop's customers, sorted by id, optionally only those in one country."""
        return self.shop.find_customers(country)

    def get_customer(self, customer_id: Annotated[int, Field(description="The customer's id.")]) -> Customer:
        """Get one customer by id. An unknown id is a tool error."""
        with _tool_errors():
            return self.shop.customer(customer_id)

    def list_products(
        self,
        category: Annotated[
            str | None,
            Field(description="Only this category: 'coffee', 'tea', 'equipment' or 'accessories'."),
        ] = None,
        max_price: Annotated[float | None, Field(description="Only products costing at most this (EUR).")] = None,
    ) -> list[Product]:
        """List the product catalogue with prices and stock, sorted by id."""
        return self.shop.find_products(category, max_price)

    def list_orders(
        self,
        status: Annotated[OrderStatus | None, Field(description="Only orders with this status.")] = None,
        customer_id: Annotated[int | None, Field(description="Only orders of this customer.")] = None,
        limit: Annotated[int, Field(description="Return at most this many orders.", ge=1, le=1000)] = 50,
    ) -> list[Order]:
        """List orders with their items and amounts, sorted by id, optionally filtered."""
        return self.shop.find_orders(status, customer_id, limit)

    def get_order(self, order_id: Annotated[int, Field(description="The order's id, e.g. 1001.")]) -> Order:
        """Get one order with its items by id. An unknown id is a tool error."""
        with _tool_errors():
            return self.shop.order(order_id)

    def sales_summary(
        self,
        group_by: Annotated[
            Literal["month", "product", "customer"], Field(description="How to group the revenue.")
        ] = "month",
    ) -> SalesSummary:
        """Summarise revenue (EUR) of all orders that are not cancelled, grouped.

        Rows for months come in calendar order (keys like '2026-01'); rows for products and
        customers are keyed by name, largest revenue first. Each row counts the orders and sums
        the revenue of its group.
        """
        return self.shop.sales_summary(group_by)

    def list_notes(self) -> list[str]:
        """List the names of the shop's internal notes (policies, reviews, contacts)."""
        return list(self.shop.notes)

    def read_note(
        self, name: Annotated[str, Field(description="The note's name as list_notes() gives it, e.g. 'shipping'.")]
    ) -> str:
        """Read one internal note as markdown text. An unknown name is a tool error."""
        with _tool_errors():
            return self.shop.note(name)

    def sales_chart(
        self,
        group_by: Annotated[
            Literal["month", "product"], Field(description="One bar per month, or per product.")
        ] = "month",
    ) -> Image:
        """Draw revenue as a PNG bar chart (320x160, no labels), in sales_summary's order."""
        summary = self.shop.sales_summary(group_by)
        return Image(data=bar_chart_png([row.revenue for row in summary.rows]), format="png")

    async def build_report(
        self,
        ctx: Context,
        steps: Annotated[int, Field(description="How many stages to report progress for.", ge=1, le=100)] = 4,
    ) -> str:
        """Build a plain-text sales report, reporting progress after each of `steps` stages."""
        for step in range(1, steps + 1):
            await anyio.sleep(STEP_PAUSE)
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
        return self._report_text()

    async def audit_inventory(self, ctx: Context) -> str:
        """Check stock of every product; log a warning for each with fewer than 5 units left."""
        products = self.shop.find_products()
        await _log(ctx, "info", f"auditing stock of {len(products)} products")
        low = self.shop.low_stock()
        for product in low:
            await _log(ctx, "warning", f"low stock: {product.name} ({product.sku}) has {product.stock} left")
        await _log(ctx, "info", "inventory audit finished")
        listing = ", ".join(f"{p.name} ({p.stock})" for p in low) or "none"
        return f"{len(products)} products checked; {len(low)} below {LOW_STOCK} units: {listing}"

    def cancel_order(self, order_id: Annotated[int, Field(description="The id of an open order.")]) -> Order:
        """Cancel an open order and return it. Shipped or already cancelled orders are a tool error."""
        with _tool_errors():
            return self.shop.cancel_order(order_id)

    def search_products(
        self,
        query: Annotated[str, Field(description="Text to find in name, SKU or category (any case).", min_length=1)],
        limit: Annotated[int, Field(description="Return at most this many products.", ge=1, le=100)] = 5,
    ) -> list[Product]:
        """Search products by a case-insensitive substring of name, SKU or category."""
        return self.shop.search_products(query, limit)

    def _report_text(self) -> str:
        """The report build_report returns: totals, months, top products, open orders."""
        by_month = self.shop.sales_summary("month")
        by_product = self.shop.sales_summary("product")
        open_orders = self.shop.find_orders("open", limit=len(self.shop.orders))
        counted = sum(row.orders for row in by_month.rows)
        lines = [
            f"Sales report: {self.shop.name}",
            f"Revenue (orders not cancelled): EUR {by_month.total_revenue:,.2f} from {counted} orders",
            "",
            "By month:",
            *(f"  {r.key}  EUR {r.revenue:>9,.2f}  ({r.orders} orders)" for r in by_month.rows),
            "",
            "Top products:",
            *(f"  {r.key:<28} EUR {r.revenue:>9,.2f}" for r in by_product.rows[:3]),
            "",
            f"Open orders: {len(open_orders)} worth EUR {sum(o.amount for o in open_orders):,.2f}",
        ]
        return "\n".join(lines)


def _registrations(tools: DemoTools) -> list[tuple[Callable[..., Any], str, ToolAnnotations | None]]:
    """Each tool's method, MCP name and annotations, in the order tools/list shows them."""
    return [
        (tools.list_customers, "list_customers", READ_ONLY),
        (tools.get_customer, "get_customer", READ_ONLY),
        (tools.list_products, "list_products", READ_ONLY),
        (tools.list_orders, "list_orders", READ_ONLY),
        (tools.get_order, "get_order", READ_ONLY),
        (tools.sales_summary, "sales_summary", READ_ONLY),
        (tools.list_notes, "list_notes", READ_ONLY),
        (tools.read_note, "read_note", READ_ONLY),
        (tools.sales_chart, "sales_chart", READ_ONLY),
        (tools.build_report, "build_report", READ_ONLY),
        (tools.audit_inventory, "audit_inventory", READ_ONLY),
        (tools.cancel_order, "cancel_order", DESTRUCTIVE),
        # A camelCase name on purpose: clients must map it to a Python identifier and back.
        (tools.search_products, "searchProducts", READ_ONLY),
    ]


def build_server(*, log_level: LogLevel = "WARNING") -> MCPServer:
    """Build a demo server with a fresh shop: its state is its own.

    Args:
        log_level: Threshold of the server's own logging (and uvicorn's under HTTP).

    Returns:
        The server, ready for `Client(server)` in process or for `server.run(...)`.
    """
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    try:
        server = MCPServer("demo", version=__version__, instructions=INSTRUCTIONS, log_level=log_level)
    finally:
        # MCPServer() calls logging.basicConfig; keep the host's root logger as it was.
        root.setLevel(saved_level)
        root.handlers[:] = saved_handlers
    tools = DemoTools(Shop())
    for method, name, annotations in _registrations(tools):
        description = inspect.cleandoc(method.__doc__ or "")
        server.add_tool(method, name=name, description=description, annotations=annotations)
    return server
