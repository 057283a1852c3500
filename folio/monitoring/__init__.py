"""Running Folio as a service: health and readiness probes, Prometheus metrics, structured
request logs. Nothing here holds state between requests, so any number of web processes can
sit behind a load balancer."""
