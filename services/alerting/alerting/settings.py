"""Alerting settings: the common ones plus its port, routing config file, links and delivery."""

from __future__ import annotations

from pydantic import Field

from pacta.settings import CommonSettings


class AlertingSettings(CommonSettings):
    alerting_port: int = Field(8003, description="HTTP port of the alerting service")
    alerting_config_file: str = Field(
        "",
        description="YAML file loaded at start-up (receivers, routes, inhibit_rules, "
        "escalation_policies); empty: none",
    )
    alerting_public_url: str = Field(
        "",
        description="base URL of this service as engineers reach it (acknowledge links); "
        "empty: http://<host>:<port> of this process",
    )
    alerting_link_secret: str = Field(
        "",
        description="key signing acknowledge links; empty: one generated and kept in the database",
    )
    alerting_ack_link_ttl_seconds: int = Field(
        7 * 86_400, ge=60, le=90 * 86_400, description="how long an acknowledge link works"
    )
    # Alertmanager sets no limit (each group notifies on its own); 4 capped a receiver at
    # about 400 notifications/s on a busy box, 32 lets one keep up with 1,000 groups/s
    alerting_refresh_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="how often an instance reads the configuration other instances changed",
    )
    alerting_receiver_concurrency: int = Field(
        32, ge=1, le=256, description="deliveries in flight at once per receiver"
    )
    alerting_apply_lanes: int = Field(
        2,
        ge=1,
        le=16,
        description="transactions applying one consumed batch of signals at once, each for its "
        "own alerts (1: one after another)",
    )
    alerting_retry_initial_seconds: float = Field(
        0.5, gt=0, le=300, description="first retry delay of a failed delivery (doubles each time)"
    )
    alerting_retry_max_seconds: float = Field(
        60.0, gt=0, le=3600, description="longest delay between two delivery attempts"
    )
    alerting_give_up_after_seconds: float = Field(
        86_400.0,
        gt=0,
        description="a delivery still failing this long after it was queued is kept as failed "
        "(for replay)",
    )

    def public_url(self) -> str:
        return self.alerting_public_url or f"http://{self.host}:{self.alerting_port}"
