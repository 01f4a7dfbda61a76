"""Audit trail (operators only): operationIds of openapi/audit.yaml."""

from handlers.tmf import resource_endpoints

listAuditEntry, retrieveAuditEntry, _, _, _ = resource_endpoints("auditEntry")
