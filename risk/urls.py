from django.urls import path

from risk.views import directory, policy, reports, system_log

app_name = "risk"

urlpatterns = [
    path("reports/entity-risk/", reports.EntityRiskReportView.as_view(), name="entity_risk_report"),
    path("reports/entity-risk/<oid:pk>/", reports.EntityDetailView.as_view(), name="entity_detail"),
    path(
        "reports/entity-risk/export/<slug:view>.<slug:fmt>",
        reports.EntityRiskExportView.as_view(),
        name="entity_risk_export",
    ),
    path(
        "reports/entity-risk/<oid:pk>/risk/",
        reports.EntityRiskSetView.as_view(),
        name="entity_risk_set",
    ),
    path(
        "reports/entity-risk/<oid:pk>/reset/",
        reports.EntityRiskResetView.as_view(),
        name="entity_risk_reset",
    ),
    path(
        "reports/entity-risk/<oid:pk>/detections/<int:detection_pk>/dismiss/",
        reports.DetectionDismissView.as_view(),
        name="detection_dismiss",
    ),
    path("reports/system-log/", system_log.SystemLogView.as_view(), name="system_log"),
    path(
        "security/events/<int:pk>/trace/",
        system_log.SecurityEventTraceView.as_view(),
        name="security_event_trace",
    ),
    path(
        "security/events/<int:pk>/entity/",
        system_log.SecurityEventEntityView.as_view(),
        name="security_event_entity",
    ),
    path(
        "reports/system-log/export.<slug:fmt>",
        system_log.SystemLogExportView.as_view(),
        name="system_log_export",
    ),
    path("directory/people/", directory.EntityListView.as_view(), name="entity_list"),
    path(
        "directory/people/export.<slug:fmt>",
        directory.EntityExportView.as_view(),
        name="entity_export",
    ),
    path("directory/people/add/", directory.EntityAddView.as_view(), name="entity_add"),
    path("directory/people/import/", directory.EntityImportView.as_view(), name="entity_import"),
    path("security/entity-risk-policy/", policy.PolicyView.as_view(), name="policy"),
    path(
        "security/entity-risk-policy/rules/add/",
        policy.PolicyRuleFormView.as_view(),
        name="policy_rule_add",
    ),
    path(
        "security/entity-risk-policy/rules/<int:pk>/edit/",
        policy.PolicyRuleFormView.as_view(),
        name="policy_rule_edit",
    ),
    path(
        "security/entity-risk-policy/rules/<int:pk>/remove/",
        policy.PolicyRuleRemoveView.as_view(),
        name="policy_rule_delete",
    ),
    path(
        "security/entity-risk-policy/mappings/add/",
        policy.MappingOverrideAddView.as_view(),
        name="mapping_override_add",
    ),
    path(
        "security/entity-risk-policy/mappings/<int:pk>/remove/",
        policy.MappingOverrideRemoveView.as_view(),
        name="mapping_override_delete",
    ),
    path(
        "security/connected-apps/", policy.ConnectedAppListView.as_view(), name="connected_app_list"
    ),
    path(
        "security/connected-apps/add/",
        policy.ConnectedAppFormView.as_view(),
        name="connected_app_add",
    ),
    path(
        "security/connected-apps/<int:pk>/edit/",
        policy.ConnectedAppFormView.as_view(),
        name="connected_app_edit",
    ),
    path(
        "security/connected-apps/<int:pk>/remove/",
        policy.ConnectedAppRemoveView.as_view(),
        name="connected_app_delete",
    ),
    path("security/workflows/", policy.WorkflowListView.as_view(), name="workflow_list"),
    path("security/workflows/add/", policy.WorkflowAddView.as_view(), name="workflow_add"),
    path(
        "security/workflows/<int:pk>/edit/", policy.WorkflowEditView.as_view(), name="workflow_edit"
    ),
    path(
        "security/workflows/<int:pk>/remove/",
        policy.WorkflowRemoveView.as_view(),
        name="workflow_delete",
    ),
]
