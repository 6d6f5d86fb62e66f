from django.urls import path

from . import api

urlpatterns = [
    path("token/", api.TokenObtainApi.as_view(), name="api-auth-token"),
    path("login/", api.TokenObtainAliasApi.as_view(), name="api-auth-login"),
    path("token/refresh/", api.TokenRefreshApi.as_view(), name="api-auth-token-refresh"),
    path("logout/", api.LogoutApi.as_view(), name="api-auth-logout"),
    path("register/", api.RegisterApi.as_view(), name="api-auth-register"),
    path("me/", api.MeApi.as_view(), name="api-auth-me"),
]
