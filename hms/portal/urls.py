from django.urls import path

from . import appointment_views as appts
from . import views

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
]
