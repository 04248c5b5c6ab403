//! Request metrics middleware and the Prometheus `/metrics` route.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, get, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The matched route pattern (`/api/courses/{id}`), found once per request by
/// [`RootSpan`] and read by [`record`]: matching a path against the routes is a
/// walk over their regexes, too dear to do twice per request.
struct RouteLabel(Option<String>);

/// The request span of `tracing-actix-web` (its standard fields), built only when
/// INFO spans are enabled; the route it matches is kept for [`record`].
pub struct RootSpan;

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        request.extensions_mut().insert(RouteLabel(route));
        if tracing::enabled!(tracing::Level::INFO) {
            tracing_actix_web::root_span!(request)
        } else {
            Span::none()
        }
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Records `http_request_duration_seconds{method,route,status}`; the route is the
/// matched pattern (`/api/courses/{id}`), so ids do not explode the label set.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let res = next.call(req).await?;
    // Taken, not cloned: nothing reads the label after this.
    let found = res.request().extensions_mut().remove::<RouteLabel>();
    let route = found
        .map_or_else(|| res.request().match_pattern(), |r| r.0)
        .unwrap_or_else(|| "unmatched".to_owned());
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => res.request().method().as_str().to_owned(),
        "route" => route,
        "status" => res.status().as_str().to_owned(),
    )
    .record(start.elapsed().as_secs_f64());
    Ok(res)
}

/// Prometheus text: request latency, cache hits/misses/errors and hit ratio,
/// database queries.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics_text(
    handle: web::Data<metrics_exporter_prometheus::PrometheusHandle>,
    state: web::Data<crate::state::AppState>,
) -> HttpResponse {
    // This process's hits / (hits + misses) since start, as the stats log line says it.
    metrics::gauge!("cache_hit_ratio").set(state.cache.counters().hit_ratio);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
