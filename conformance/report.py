"""What a conformance run found, and which answers it got."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from schemathesis.engine.recorder import ScenarioRecorder


@dataclass(frozen=True)
class Finding:
    operation: str  # e.g. "PATCH /customer/{id}"
    check: str
    title: str
    message: str
    reproduce: str  # curl command

    def render(self) -> str:
        message = "\n".join(f"    {line}" for line in self.message.strip().splitlines())
        return f"[{self.check}] {self.operation}: {self.title}\n{message}\n    {self.reproduce}"


@dataclass
class Report:
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the run itself went wrong
    responses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status)

    @property
    def passed(self) -> bool:
        return not self.findings and not self.errors

    def statuses(self, operation: str) -> set[int]:
        return {status for (label, status) in self.responses if label == operation}

    def summary(self) -> str:
        lines = ["responses per operation:"]
        for label in sorted({label for label, _ in self.responses}):
            counts = sorted((s, n) for (op, s), n in self.responses.items() if op == label)
            lines.append(f"  {label:<28} " + "  ".join(f"{s}x{n}" for s, n in counts))
        lines += ["", *(finding.render() + "\n" for finding in self.findings)]
        lines += [f"error: {error}\n" for error in self.errors]
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(
            f"{verdict}: {len(self.findings)} failing check(s), {len(self.errors)} error(s), "
            f"{sum(self.responses.values())} requests in {self.seconds:.1f}s"
        )
        return "\n".join(lines)


def record(report: Report, recorder: ScenarioRecorder) -> None:
    for case_id, interaction in recorder.interactions.items():
        if interaction.response is not None:
            label = recorder.cases[case_id].value.operation.label
            report.responses[(label, interaction.response.status_code)] += 1
    known = {(f.operation, f.check, f.title, f.message) for f in report.findings}
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            finding = Finding(
                operation=recorder.cases[case_id].value.operation.label,
                check=check.name,
                title=failure.title,
                message=failure.message,
                reproduce=check.failure_info.code_sample,
            )
            key = (finding.operation, finding.check, finding.title, finding.message)
            if key not in known:
                known.add(key)
                report.findings.append(finding)
