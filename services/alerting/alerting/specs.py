"""Validated bodies of alerting's configuration resources (receivers come from their modules)
and their translation into domain values."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.domain.escalation import Policy, Step
from alerting.domain.matchers import parse_matcher_list
from alerting.domain.muting import InhibitRule, Silence
from alerting.domain.routing import MatcherEntry
from alerting.store.silences import SilenceRow
from pacta.durations import datetime_to_ms, parse_duration


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class InhibitRuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_matchers: list[MatcherEntry] = Field(min_length=1, max_length=64)
    target_matchers: list[MatcherEntry] = Field(min_length=1, max_length=64)
    equal: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("equal")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for item in value:
            _no_nul(item)
        return value

    def rule(self) -> InhibitRule:
        return InhibitRule(
            source=tuple(parse_matcher_list(self.source_matchers)),
            target=tuple(parse_matcher_list(self.target_matchers)),
            equal=tuple(self.equal),
        )


class InhibitRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[InhibitRuleSpec] = Field(default_factory=list, max_length=500)


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: str = Field("0s", max_length=64)
    receivers: list[str] = Field(default_factory=list, max_length=32)
    schedules: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(_no_nul(value), allow_zero=True)
        return value

    @field_validator("receivers", "schedules")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _no_nul(item).strip():
                raise ValueError("a name must not be empty")
        return value

    @model_validator(mode="after")
    def _someone(self) -> StepSpec:
        if not self.receivers and not self.schedules:
            raise ValueError("receivers: a step needs receivers or schedules")
        return self


class EscalationPolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[StepSpec] = Field(min_length=1, max_length=32)
    repeat: int = Field(0, ge=0, le=100, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicySpec:
        afters = [parse_duration(s.after, allow_zero=True) for s in self.steps]
        if afters != sorted(afters):
            raise ValueError("steps: each step's `after` must not come before the previous one")
        return self

    def policy(self, name: str) -> Policy:
        steps = tuple(
            Step(
                parse_duration(s.after, allow_zero=True) * 1000,
                tuple(s.receivers),
                tuple(s.schedules),
            )
            for s in self.steps
        )
        return Policy(name=name, steps=steps, repeat=self.repeat)


class SilenceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[MatcherEntry] = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    comment: str = Field("", max_length=4096)
    created_by: str = Field("", max_length=200)
    expire_on_resolve: bool = False

    _t = field_validator("comment", "created_by")(_no_nul)

    @field_validator("matchers")
    @classmethod
    def _not_everything(cls, value: list[str]) -> list[str]:
        # as Alertmanager: `=` and `=~` matchers that all match the empty string would mute
        # every alert lacking the label (and `{}` every alert); like Alertmanager, a negative
        # matcher (`team!="x"`) counts as one that does not
        parsed = parse_matcher_list(value)
        if all(m.op in ("=", "=~") and m.matches({}) for m in parsed):
            raise ValueError("at least one matcher must not match the empty string")
        return value

    @model_validator(mode="after")
    def _window(self) -> SilenceSpec:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at: must lie after starts_at")
        return self


def silence_from_row(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        matchers=tuple(parse_matcher_list(row.matchers)),
        starts_at_ms=datetime_to_ms(row.starts_at),
        ends_at_ms=datetime_to_ms(row.ends_at),
        expire_on_resolve=row.expire_on_resolve,
    )
