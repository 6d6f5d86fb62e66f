from rest_framework.pagination import PageNumberPagination


class DefaultPagination(PageNumberPagination):
    """`?page=N&page_size=M` (M ≤ 100). Response: {count, next, previous, results}."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
