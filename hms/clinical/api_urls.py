from django.urls import path

from . import api, api_encounters, api_procedures

urlpatterns = [
    path("patients/<int:pk>/records/", api.PatientHistoryApi.as_view(), name="api-patient-records"),
    *(
        path(f"patients/<int:pk>/{name}/", view.as_view(), name=f"api-patient-{name}")
        for name, view in api.RECORD_LIST_APIS.items()
    ),
    path("records/<int:pk>/", api.EncounterDetailApi.as_view(), name="api-record"),
    # encounters, notes, timeline (issue 4)
    path("encounters/", api_encounters.EncounterCreateApi.as_view(), name="api-encounters"),
    path("encounters/<int:pk>/", api_encounters.EncounterRetrieveApi.as_view(), name="api-encounter"),
    path(
        "encounters/<int:pk>/close/", api_encounters.EncounterCloseApi.as_view(), name="api-encounter-close"
    ),
    path(
        "encounters/<int:pk>/notes/", api_encounters.EncounterNotesApi.as_view(), name="api-encounter-notes"
    ),
    path(
        "appointments/<int:pk>/start-encounter/",
        api_encounters.AppointmentStartEncounterApi.as_view(),
        name="api-appointment-start-encounter",
    ),
    path("notes/<int:pk>/", api_encounters.NoteDetailApi.as_view(), name="api-note"),
    path("notes/<int:pk>/sign/", api_encounters.NoteSignApi.as_view(), name="api-note-sign"),
    path("notes/<int:pk>/addenda/", api_encounters.NoteAddendumApi.as_view(), name="api-note-addenda"),
    path(
        "notes/<int:pk>/entered-in-error/",
        api_encounters.NoteEnteredInErrorApi.as_view(),
        name="api-note-entered-in-error",
    ),
    path("note-templates/", api_encounters.NoteTemplateListApi.as_view(), name="api-note-templates"),
    path(
        "patients/<int:pk>/timeline/",
        api_encounters.PatientTimelineApi.as_view(),
        name="api-patient-timeline",
    ),
]

# vitals and daily health reports (issue 4)
from . import api_vitals  # noqa: E402

urlpatterns += [
    path("patients/<int:pk>/vitals/", api_vitals.PatientVitalsApi.as_view(), name="api-patient-vitals"),
    path(
        "vitals/<int:pk>/entered-in-error/", api_vitals.VitalEnteredInErrorApi.as_view(), name="api-vital-eie"
    ),
    path("daily-reports/", api_vitals.DailyReportListApi.as_view(), name="api-daily-reports"),
    path("daily-reports/<int:pk>/", api_vitals.DailyReportDetailApi.as_view(), name="api-daily-report"),
]

# care plans, goals, activities, care tasks (issue 4)
from . import api_careplans  # noqa: E402

urlpatterns += [
    path("care-plans/", api_careplans.CarePlanListCreateApi.as_view(), name="api-care-plans"),
    path("care-plans/<int:pk>/", api_careplans.CarePlanDetailApi.as_view(), name="api-care-plan"),
    path(
        "care-plans/<int:pk>/goals/",
        api_careplans.CarePlanGoalCreateApi.as_view(),
        name="api-care-plan-goals",
    ),
    path(
        "care-plans/<int:pk>/activities/",
        api_careplans.CarePlanActivityCreateApi.as_view(),
        name="api-care-plan-activities",
    ),
    path(
        "care-plans/<int:pk>/entered-in-error/",
        api_careplans.CarePlanEnteredInErrorApi.as_view(),
        name="api-care-plan-eie",
    ),
    path(
        "care-plan-activities/<int:pk>/",
        api_careplans.CarePlanActivityDetailApi.as_view(),
        name="api-care-plan-activity",
    ),
    path("care-tasks/", api_careplans.CareTaskListApi.as_view(), name="api-care-tasks"),
]

# diagnoses, problem list, allergies (issue 4)
from . import api_problems  # noqa: E402

urlpatterns += [
    path("conditions/", api_problems.ConditionListCreateApi.as_view(), name="api-conditions"),
    path("conditions/<int:pk>/", api_problems.ConditionDetailApi.as_view(), name="api-condition"),
    path(
        "conditions/<int:pk>/entered-in-error/",
        api_problems.ConditionEnteredInErrorApi.as_view(),
        name="api-condition-eie",
    ),
    path(
        "patients/<int:pk>/problems/",
        api_problems.PatientProblemListApi.as_view(),
        name="api-patient-problems",
    ),
    path("allergies/", api_problems.AllergyListCreateApi.as_view(), name="api-allergies"),
    path("allergies/<int:pk>/", api_problems.AllergyDetailApi.as_view(), name="api-allergy"),
    path(
        "allergies/<int:pk>/entered-in-error/",
        api_problems.AllergyEnteredInErrorApi.as_view(),
        name="api-allergy-eie",
    ),
    path(
        "patients/<int:pk>/allergies/no-known/",
        api_problems.NoKnownAllergiesApi.as_view(),
        name="api-patient-allergies-no-known",
    ),
    path(
        "patients/<int:pk>/allergy-status/",
        api_problems.AllergyStatusApi.as_view(),
        name="api-patient-allergy-status",
    ),
]

# procedures performed (write side; the read side is /api/patients/{id}/procedures/)
urlpatterns += [path("procedures/", api_procedures.ProcedureRecordApi.as_view(), name="api-procedures")]
