"""Every query of the metrics service. Each one filters by organisation."""

from __future__ import annotations

from advocacy_metrics.models import tenants
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)
