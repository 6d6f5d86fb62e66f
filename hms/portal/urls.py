from django.urls import path

from . import appointment_views as appts
from . import bedboard_views as beds
from . import billing_claim_views as claim_views
from . import billing_invoice_views as billinv
from . import billing_payment_views as billpay
from . import careplan_views as careplans
from . import codes_views as codes
from . import document_views as docs
from . import ed_views as ed
from . import encounter_views as encounters
from . import inpatient_report_views as inpatient_reports
from . import inpatient_views as inpatient
from . import lab_views as lab
from . import pharmacy_views as pharmacy
from . import prescription_views as rx
from . import problem_views as problems
from . import reminder_views as reminders
from . import views
from . import vitals_views as vitals

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("doctor/", views.doctor_home, name="doctor_home"),
    path("nurse/", views.nurse_home, name="nurse_home"),
    path("reception/", views.reception_home, name="reception_home"),
    path("pharmacy/", views.pharmacy_home, name="pharmacy_home"),
    path("lab/", views.lab_home, name="lab_home"),
    path("billing/", views.billing_home, name="billing_home"),
    path("admin-home/", views.admin_home, name="admin_home"),
    path("me/", views.patient_home, name="patient_home"),
    path("patients/", views.patient_search, name="patient_search"),
    path("patients/new/", views.patient_register, name="patient_register"),
    path("patients/<int:pk>/", views.patient_chart, name="patient_chart"),
    path("patients/<int:pk>/encounters/", views.patient_encounters, name="patient_encounters"),
    path("appointments/", appts.my_appointments, name="my_appointments"),
    path("appointments/find/", appts.find_doctor, name="find_doctor"),
    path("appointments/doctors/<int:pk>/", appts.doctor_slots, name="doctor_slots"),
    path("appointments/book/", appts.book, name="book"),
    path("appointments/<int:pk>/reschedule/", appts.reschedule, name="reschedule"),
    path("appointments/<int:pk>/cancel/", appts.cancel, name="cancel"),
    path("reception/day/", appts.reception_day, name="reception_day"),
    path("reception/appointments/<int:pk>/check-in/", appts.check_in, name="check_in"),
    path("doctor/agenda/", appts.agenda, name="agenda"),
    path("doctor/schedule/", appts.my_schedule, name="my_schedule"),
    path("doctor/schedule/exceptions/", appts.my_schedule_exception_add, name="my_schedule_exception_add"),
    path(
        "doctor/schedule/exceptions/<int:pk>/remove/",
        appts.my_schedule_exception_remove,
        name="my_schedule_exception_remove",
    ),
    # documents
    path("encounters/<int:pk>/documents/", docs.encounter_documents, name="encounter_documents"),
    path("patients/<int:pk>/documents/", docs.patient_documents, name="patient_documents"),
    path("me/documents/", docs.my_documents, name="my_documents"),
    path("documents/<int:pk>/download/", docs.document_download, name="document_download"),
    path(
        "documents/<int:pk>/entered-in-error/", docs.document_enter_in_error, name="document_enter_in_error"
    ),
    # vitals and daily health reports
    path("encounters/<int:pk>/vitals/", vitals.encounter_vitals, name="encounter_vitals"),
    path("nurse/vitals/", vitals.vitals_entry, name="vitals_entry"),
    path("patients/<int:pk>/vitals/", vitals.patient_vitals, name="patient_vitals"),
    path("me/daily-report/", vitals.daily_report, name="daily_report"),
    path("patients/<int:pk>/daily-reports/", vitals.patient_daily_reports, name="patient_daily_reports"),
    # care plans
    path("encounters/<int:pk>/plan/", careplans.encounter_plan, name="encounter_plan"),
    path("nurse/tasks/", careplans.care_tasks, name="care_tasks"),
    path("nurse/tasks/<int:pk>/", careplans.care_task_update, name="care_task_update"),
    path("patients/<int:pk>/care-plans/", careplans.patient_care_plans, name="patient_care_plans"),
    # encounters, notes and the timeline
    path("encounters/<int:pk>/", encounters.encounter, name="encounter"),
    path("encounters/<int:pk>/note/", encounters.encounter_note, name="encounter_note"),
    path("encounters/<int:pk>/close/", encounters.encounter_close, name="encounter_close"),
    path("appointments/<int:pk>/visit/", encounters.appointment_visit, name="appointment_visit"),
    path("patients/<int:pk>/walk-in/", encounters.encounter_walk_in, name="encounter_walk_in"),
    path("patients/<int:pk>/timeline/", encounters.patient_timeline, name="patient_timeline"),
    # lab orders and results
    path("encounters/<int:pk>/orders/", lab.encounter_orders, name="encounter_orders"),
    path("lab/tests/search/", lab.lab_test_search, name="lab_test_search"),
    path("lab/worklist/", lab.lab_worklist, name="lab_worklist"),
    path("lab/orders/<int:pk>/result/", lab.lab_result_entry, name="lab_result_entry"),
    path("lab/orders/<int:pk>/collect/", lab.lab_specimen_collect, name="lab_specimen_collect"),
    path("doctor/results/", lab.results_inbox, name="results_inbox"),
    path("doctor/results/<int:pk>/acknowledge/", lab.result_acknowledge, name="result_acknowledge"),
    path("me/results/", lab.my_results, name="my_results"),
    # diagnoses, problem list and allergies
    path("encounters/<int:pk>/diagnoses/", problems.encounter_diagnoses, name="encounter_diagnoses"),
    path("terminology/icd10/", problems.icd10_search, name="icd10_search"),
    path("patients/<int:pk>/allergies/", problems.patient_allergies, name="patient_allergies"),
    # dispensing, inventory and supply
    path("pharmacy/worklist/", pharmacy.dispense_worklist, name="dispense_worklist"),
    path("pharmacy/prescriptions/<int:pk>/dispense/", pharmacy.dispense, name="dispense"),
    path("pharmacy/stock/", pharmacy.stock_page, name="stock"),
    path("pharmacy/reports/", pharmacy.stock_reports, name="stock_reports"),
    # prescriptions and renewals
    path("patients/<int:pk>/prescribe/", rx.prescribe, name="prescribe"),
    path("patients/<int:pk>/prescribe/check/", rx.prescription_check, name="prescription_check"),
    path("encounters/<int:pk>/prescriptions/", rx.encounter_prescriptions, name="encounter_prescriptions"),
    path("prescriptions/medications/", rx.medication_choices, name="medication_choices"),
    path("prescriptions/<int:pk>/stop/", rx.prescription_stop, name="prescription_stop"),
    path("prescriptions/<int:pk>/pdf/", rx.prescription_pdf, name="prescription_pdf"),
    path("me/prescriptions/", rx.my_prescriptions, name="my_prescriptions"),
    path("me/prescriptions/<int:pk>/renew/", rx.renewal_request, name="renewal_request"),
    path("doctor/renewals/", rx.renewal_inbox, name="renewal_inbox"),
    path("doctor/renewals/<int:pk>/", rx.renewal_decide, name="renewal_decide"),
    # medication reminders
    path("me/medication-reminders/", reminders.medication_reminders, name="medication_reminders"),
    path(
        "me/medication-reminders/<int:pk>/",
        reminders.medication_reminder_update,
        name="medication_reminder_update",
    ),
    # bed board and inpatient reports
    path("wards/", beds.bed_overview, name="bed_overview"),
    path("wards/table/", beds.bed_overview_table, name="bed_overview_table"),
    path("wards/<int:pk>/board/", beds.bed_board, name="bed_board"),
    path("wards/<int:pk>/board/table/", beds.bed_board_table, name="bed_board_table"),
    path("reports/inpatient/", inpatient_reports.inpatient_reports, name="inpatient_reports"),
    # codes and broadcasts
    path("codes/activate/", codes.code_activate, name="code_activate"),
    path("codes/log/", codes.code_log, name="code_log"),
    path("codes/<int:pk>/", codes.code_activation, name="code_activation"),
    path("codes/<int:pk>/alerts/", codes.code_activation_alerts, name="code_activation_alerts"),
    path("codes/<int:pk>/close/", codes.code_close, name="code_close"),
    path("alerts/mine/", codes.my_alerts, name="my_alerts"),
    path("alerts/<int:pk>/acknowledge/", codes.alert_acknowledge, name="alert_acknowledge"),
    path("duty/", codes.duty_toggle, name="duty_toggle"),
    path("broadcasts/new/", codes.broadcast, name="broadcast"),
    # emergency department and patient emergency requests
    path("ed/board/", ed.ed_board, name="ed_board"),
    path("ed/board/table/", ed.ed_board_table, name="ed_board_table"),
    path("ed/arrival/", ed.ed_arrival, name="ed_arrival"),
    path("ed/patients/search/", ed.ed_patient_search, name="ed_patient_search"),
    path("ed/esi-suggest/", ed.ed_esi_suggest, name="ed_esi_suggest"),
    path("ed/visits/<int:pk>/triage/", ed.ed_triage, name="ed_triage"),
    path("ed/visits/<int:pk>/seen/", ed.ed_seen, name="ed_seen"),
    path("ed/visits/<int:pk>/depart/", ed.ed_depart, name="ed_depart"),
    path("ed/requests/<int:pk>/<str:action>/", ed.ed_request_act, name="ed_request_act"),
    path("me/emergency/", ed.emergency_request, name="emergency_request"),
    path("me/emergency/<int:pk>/", ed.emergency_request_status, name="emergency_request_status"),
    # wards and beds, ADT, temporary identity and merge
    path("patients/<int:pk>/admit/", inpatient.admit, name="admit"),
    path("admissions/<int:pk>/", inpatient.admission, name="admission"),
    path("admissions/<int:pk>/transfer/", inpatient.admission_transfer, name="admission_transfer"),
    path("admissions/<int:pk>/discharge/", inpatient.admission_discharge, name="admission_discharge"),
    path("admissions/<int:pk>/summary.pdf", inpatient.admission_pdf, name="admission_pdf"),
    path("emergency/quick-admit/", inpatient.quick_admit, name="quick_admit"),
    path("patients/merge/", inpatient.patient_merge, name="patient_merge"),
    path("patients/merge/search/", inpatient.patient_merge_search, name="patient_merge_search"),
    path("admin-home/locations/", inpatient.locations, name="locations"),
    path("admin-home/locations/<int:pk>/edit/", inpatient.location_edit, name="location_edit"),
]

# insurance claims and coverage (issue 7)
urlpatterns += [
    path("billing/claims/", claim_views.claims, name="claims"),
    path("billing/claims/new/", claim_views.claim_create, name="claim_create"),
    path("billing/claims/<int:pk>/", claim_views.claim, name="claim"),
    path("billing/claims/<int:pk>/fhir/", claim_views.claim_fhir, name="claim_fhir"),
    path("billing/claims/<int:pk>/<str:action>/", claim_views.claim_action, name="claim_action"),
    path("patients/<int:pk>/coverage/", claim_views.patient_coverage, name="patient_coverage"),
    path("me/claims/", claim_views.my_claims, name="my_claims"),
]

# payments (issue 7: payments, refunds, receipts, reports, pay online)
urlpatterns += [
    path("billing/payments/new/", billpay.payment_new, name="payment_new"),
    path("billing/payments/find/", billpay.payment_patient_search, name="payment_patient_search"),
    path("billing/payments/<int:pk>/", billpay.payment_detail, name="payment"),
    path("billing/payments/<int:pk>/receipt/", billpay.receipt, name="receipt"),
    path("billing/payments/<int:pk>/refund/", billpay.refund_request, name="refund_request"),
    path("billing/refunds/", billpay.refunds, name="refunds"),
    path("billing/refunds/<int:pk>/decide/", billpay.refund_decide, name="refund_decide"),
    path("billing/reports/", billpay.billing_reports, name="billing_reports"),
    path("me/receipts/", billpay.my_receipts, name="my_receipts"),
    path("me/bills/<int:pk>/pay/", billpay.pay_online, name="pay_online"),
    path("me/bills/pay/return/", billpay.pay_online_return, name="pay_online_return"),
]

# price list, charges and invoices (issue 7)
urlpatterns += [
    path("billing/charges/", billinv.billing_charges, name="billing_charges"),
    path("billing/charges/find/", billinv.billing_charges_search, name="billing_charges_search"),
    path("billing/invoices/<int:pk>/", billinv.invoice, name="invoice"),
    path("billing/invoices/<int:pk>/pdf/", billinv.invoice_pdf, name="invoice_pdf"),
    path("billing/prices/", billinv.price_list, name="price_list"),
    path("me/bills/", billinv.my_bills, name="my_bills"),
]
