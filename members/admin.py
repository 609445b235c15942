from django.contrib import admin

from members.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["public_id", "card_number", "external_id", "user", "status", "joined_at"]
    list_filter = ["status"]
    search_fields = ["public_id", "card_number", "email", "external_id", "user__email"]
    readonly_fields = ["public_id"]
