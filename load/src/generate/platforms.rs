//! What server-side error events look like per platform: the SDK that sends them, the runtime,
//! the exceptions a web service raises, and the frames between its framework and its code.
//! The values are the ordinary shapes of each ecosystem; none is taken from a real service.

/// One exception a platform raises: type, module or package, message (`{n}` varies).
pub type ExceptionShape = (&'static str, &'static str, &'static str);
/// One frame: file, module or package, function, whether it is the application's own code.
pub type FrameShape = (&'static str, &'static str, &'static str, bool);

/// Everything an error event of one platform draws from.
pub struct Platform {
    /// Sentry's `platform` value.
    pub name: &'static str,
    /// The SDK's name and version.
    pub sdk: (&'static str, &'static str),
    /// The runtime context: name and version.
    pub runtime: (&'static str, &'static str),
    /// The logger errors are reported through.
    pub logger: &'static str,
    /// The release up to its patch number, as this ecosystem names releases (the patch number
    /// is the event's release number).
    pub release: &'static str,
    /// Exceptions the service raises.
    pub exceptions: &'static [ExceptionShape],
    /// Frames from the framework's entry down to the raising function, outermost first.
    pub frames: &'static [FrameShape],
    /// Routes (request path and transaction name).
    pub routes: &'static [&'static str],
}

/// The platforms error traffic is spread over.
pub const PLATFORMS: &[Platform] = &[
    Platform {
        name: "python",
        sdk: ("sentry.python.django", "2.19.2"),
        runtime: ("CPython", "3.12.7"),
        logger: "django.request",
        release: "shop@4.2.",
        exceptions: &[
            (
                "ValueError",
                "builtins",
                "invalid literal for int() with base 10: 'order-{n}'",
            ),
            ("KeyError", "builtins", "'customer_{n}'"),
            (
                "IntegrityError",
                "django.db.utils",
                "duplicate key value violates unique constraint \"orders_order_ref_{n}\"",
            ),
            (
                "AttributeError",
                "builtins",
                "'NoneType' object has no attribute 'total'",
            ),
            (
                "TimeoutError",
                "builtins",
                "upstream inventory service did not answer in 5.0s",
            ),
        ],
        frames: &[
            (
                "django/core/handlers/exception.py",
                "django.core.handlers.exception",
                "inner",
                false,
            ),
            (
                "django/core/handlers/base.py",
                "django.core.handlers.base",
                "_get_response",
                false,
            ),
            (
                "django/views/generic/base.py",
                "django.views.generic.base",
                "dispatch",
                false,
            ),
            (
                "shop/views/checkout.py",
                "shop.views.checkout",
                "post",
                true,
            ),
            (
                "shop/services/orders.py",
                "shop.services.orders",
                "create_order",
                true,
            ),
            (
                "shop/services/pricing.py",
                "shop.services.pricing",
                "apply_discounts",
                true,
            ),
            ("shop/models/cart.py", "shop.models.cart", "total", true),
        ],
        routes: &[
            "/checkout/",
            "/api/orders/",
            "/cart/items/",
            "/account/addresses/",
        ],
    },
    Platform {
        name: "java",
        sdk: ("sentry.java.spring-boot.jakarta", "7.18.0"),
        runtime: ("OpenJDK Runtime Environment", "21.0.5"),
        logger: "org.springframework.web.servlet.DispatcherServlet",
        release: "billing-service@2.14.",
        exceptions: &[
            (
                "NullPointerException",
                "java.lang",
                "Cannot invoke \"com.acme.billing.Invoice.getTotal()\" because \"invoice\" is null",
            ),
            (
                "IllegalStateException",
                "java.lang",
                "Invoice INV-{n} is already settled",
            ),
            (
                "DataIntegrityViolationException",
                "org.springframework.dao",
                "could not execute statement; constraint [uk_payment_ref_{n}]",
            ),
            (
                "SocketTimeoutException",
                "java.net",
                "Read timed out after 3000ms",
            ),
        ],
        frames: &[
            ("Thread.java", "java.lang", "run", false),
            (
                "DispatcherServlet.java",
                "org.springframework.web.servlet",
                "doDispatch",
                false,
            ),
            (
                "InvocableHandlerMethod.java",
                "org.springframework.web.method.support",
                "invokeForRequest",
                false,
            ),
            (
                "InvoiceController.java",
                "com.acme.billing.web",
                "settle",
                true,
            ),
            (
                "InvoiceService.java",
                "com.acme.billing.service",
                "settleInvoice",
                true,
            ),
            (
                "PaymentGateway.java",
                "com.acme.billing.payment",
                "capture",
                true,
            ),
        ],
        routes: &[
            "/invoices/{id}/settle",
            "/payments",
            "/invoices",
            "/customers/{id}/balance",
        ],
    },
    Platform {
        name: "node",
        sdk: ("sentry.javascript.node", "8.42.0"),
        runtime: ("node", "v22.11.0"),
        logger: "express",
        release: "catalog-api@1.31.",
        exceptions: &[
            (
                "TypeError",
                "",
                "Cannot read properties of undefined (reading 'sku')",
            ),
            ("Error", "", "ECONNREFUSED 10.0.3.{n}:6379"),
            ("RangeError", "", "Invalid array length"),
            (
                "SyntaxError",
                "",
                "Unexpected token < in JSON at position {n}",
            ),
        ],
        frames: &[
            (
                "node:internal/process/task_queues",
                "",
                "process.processTicksAndRejections",
                false,
            ),
            (
                "/srv/app/node_modules/express/lib/router/layer.js",
                "express.lib.router:layer",
                "Layer.handle [as handle_request]",
                false,
            ),
            (
                "/srv/app/src/routes/products.js",
                "routes:products",
                "getProduct",
                true,
            ),
            (
                "/srv/app/src/services/pricing.js",
                "services:pricing",
                "priceFor",
                true,
            ),
            (
                "/srv/app/src/lib/cache.js",
                "lib:cache",
                "readThrough",
                true,
            ),
        ],
        routes: &[
            "/products/:id",
            "/search",
            "/categories/:slug",
            "/products/:id/reviews",
        ],
    },
    Platform {
        name: "go",
        sdk: ("sentry.go", "0.30.0"),
        runtime: ("go", "go1.23.4"),
        logger: "net/http",
        release: "ledger@v0.18.",
        exceptions: &[
            (
                "*errors.errorString",
                "errors",
                "ledger: account {n} not found",
            ),
            ("*pq.Error", "github.com/lib/pq", "pq: deadlock detected"),
            (
                "context.deadlineExceededError",
                "context",
                "context deadline exceeded",
            ),
        ],
        frames: &[
            (
                "net/http/server.go",
                "net/http",
                "serverHandler.ServeHTTP",
                false,
            ),
            (
                "github.com/go-chi/chi/v5/mux.go",
                "github.com/go-chi/chi/v5",
                "(*Mux).ServeHTTP",
                false,
            ),
            (
                "internal/api/transfers.go",
                "github.com/acme/ledger/internal/api",
                "(*Handler).CreateTransfer",
                true,
            ),
            (
                "internal/ledger/postings.go",
                "github.com/acme/ledger/internal/ledger",
                "(*Store).Post",
                true,
            ),
        ],
        routes: &["/v1/transfers", "/v1/accounts/{id}", "/v1/postings"],
    },
    Platform {
        name: "csharp",
        sdk: ("sentry.dotnet.aspnetcore", "4.13.0"),
        runtime: (".NET", "8.0.11"),
        logger: "Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware",
        release: "Bookings.Api@3.9.",
        exceptions: &[
            (
                "System.InvalidOperationException",
                "System",
                "Sequence contains no elements",
            ),
            (
                "System.ArgumentNullException",
                "System",
                "Value cannot be null. (Parameter 'reservation')",
            ),
            (
                "Microsoft.EntityFrameworkCore.DbUpdateConcurrencyException",
                "Microsoft.EntityFrameworkCore",
                "The database operation was expected to affect 1 row(s), but actually affected 0 row(s); booking {n}",
            ),
        ],
        frames: &[
            (
                "Microsoft.AspNetCore.Routing.EndpointMiddleware",
                "Microsoft.AspNetCore.Routing",
                "Invoke",
                false,
            ),
            (
                "Microsoft.AspNetCore.Mvc.Infrastructure.ControllerActionInvoker",
                "Microsoft.AspNetCore.Mvc.Core",
                "InvokeActionMethodAsync",
                false,
            ),
            (
                "Bookings.Api/Controllers/ReservationsController.cs",
                "Bookings.Api.Controllers",
                "ReservationsController.Confirm",
                true,
            ),
            (
                "Bookings.Domain/ReservationService.cs",
                "Bookings.Domain",
                "ReservationService.ConfirmAsync",
                true,
            ),
        ],
        routes: &[
            "/api/reservations/{id}/confirm",
            "/api/rooms",
            "/api/reservations",
        ],
    },
];
