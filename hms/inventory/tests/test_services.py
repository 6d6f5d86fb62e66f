"""Stock services: receive, FEFO issue across lots, expired lots skipped, never negative, transfer, adjust,
return, write-off, reorder alert once per day."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from hms.audit.models import AuditEvent
from hms.core.errors import Conflict
from hms.inventory import services
from hms.inventory.models import MoveKind, ReorderLevel, StockBalance, StockLot, StockMove
from hms.messaging.models import Delivery, Notification

from .stock_fixtures import days, receive


def on_hand(lot, location):
    row = StockBalance.objects.filter(lot=lot, location=location).first()
    return row.quantity if row else Decimal("0")


def ledger_sum(lot, location):
    return sum((m.quantity for m in StockMove.objects.filter(lot=lot, location=location)), Decimal("0"))


def test_fefo_issue_takes_earliest_expiry_first_and_skips_expired(world):
    late = receive(world, world["amox"], "LATE", "50", days(300)).lot
    soon = receive(world, world["amox"], "SOON", "10", days(20)).lot
    mid = receive(world, world["amox"], "MID", "10", days(100)).lot
    expired = StockLot.objects.create(item=world["amox"], lot_number="OLD", expiry_date=days(0))
    StockBalance.objects.create(
        lot=expired, location=world["pharmacy"], item=world["amox"], quantity=Decimal("99")
    )

    picks = services.stock_issue(
        item=world["amox"], location=world["pharmacy"], quantity=Decimal("25"), by=world["pharmacist"]
    )

    assert [(p.lot.lot_number, p.quantity) for p in picks] == [("SOON", 10), ("MID", 10), ("LATE", 5)]
    assert on_hand(soon, world["pharmacy"]) == 0
    assert on_hand(mid, world["pharmacy"]) == 0
    assert on_hand(late, world["pharmacy"]) == 45
    assert on_hand(expired, world["pharmacy"]) == 99  # expired lot untouched
    for lot in (soon, mid, late):
        assert ledger_sum(lot, world["pharmacy"]) == on_hand(lot, world["pharmacy"])


def test_issue_refuses_more_than_usable_stock_and_writes_nothing(world):
    lot = receive(world, world["amox"], "A1", "5", days(30)).lot
    expired = StockLot.objects.create(item=world["amox"], lot_number="OLD", expiry_date=days(-3))
    StockBalance.objects.create(
        lot=expired, location=world["pharmacy"], item=world["amox"], quantity=Decimal("50")
    )
    moves_before = StockMove.objects.count()

    with pytest.raises(Conflict) as exc:
        services.stock_issue(
            item=world["amox"], location=world["pharmacy"], quantity=Decimal("6"), by=world["pharmacist"]
        )

    assert "5" in exc.value.message and "expired lots are not issued" in exc.value.message
    assert exc.value.payload == {"available": "5.000"}
    assert on_hand(lot, world["pharmacy"]) == 5
    assert StockMove.objects.count() == moves_before


def test_database_refuses_a_negative_balance(world):
    lot = receive(world, world["amox"], "A1", "5", days(30)).lot
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(lot=lot).update(quantity=Decimal("-1"))


def test_receive_validates_input(world):
    with pytest.raises(ValidationError) as exc:
        receive(world, world["amox"], "X", "10", days(-1))
    assert "expiry_date" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        receive(world, world["amox"], "X", "0", days(10))
    assert "quantity" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        receive(world, world["amox"], "X", "10", None)
    assert "expiry_date" in exc.value.message_dict  # medications need an expiry
    receive(world, world["amox"], "X", "10", days(10))
    with pytest.raises(ValidationError) as exc:
        receive(world, world["amox"], "X", "10", days(11))  # same lot, other expiry
    assert "expiry_date" in exc.value.message_dict
    move = receive(world, world["gloves"], "G1", "100", None)  # supplies may have no expiry
    assert move.lot.unit_cost == Decimal("0.08")  # item cost by default
    assert StockMove.objects.filter(lot__lot_number="X").count() == 1


def test_only_pharmacists_move_stock(world):
    for role in ("nurse", "doctor", "admin", "patient_user"):
        with pytest.raises(PermissionDenied):
            services.stock_receive(
                item=world["amox"],
                location=world["pharmacy"],
                lot_number="Z",
                quantity=Decimal("1"),
                expiry_date=days(9),
                by=world[role],
            )


def test_transfer_moves_fefo_lots_to_the_ward_and_pairs_the_moves(world):
    soon = receive(world, world["amox"], "SOON", "10", days(20)).lot
    late = receive(world, world["amox"], "LATE", "10", days(200)).lot
    moves = services.stock_transfer(
        item=world["amox"],
        quantity=Decimal("15"),
        from_location=world["pharmacy"],
        to_location=world["ward"],
        by=world["pharmacist"],
    )
    assert sorted((m.kind, m.lot.lot_number, m.quantity) for m in moves) == [
        (MoveKind.TRANSFER_IN, "LATE", 5),
        (MoveKind.TRANSFER_IN, "SOON", 10),
        (MoveKind.TRANSFER_OUT, "LATE", -5),
        (MoveKind.TRANSFER_OUT, "SOON", -10),
    ]
    assert len({m.group for m in moves}) == 1
    assert on_hand(soon, world["ward"]) == 10 and on_hand(late, world["ward"]) == 5
    assert on_hand(late, world["pharmacy"]) == 5
    with pytest.raises(Conflict):
        services.stock_transfer(
            item=world["amox"],
            quantity=Decimal("6"),
            from_location=world["pharmacy"],
            to_location=world["ward"],
            by=world["pharmacist"],
        )
    with pytest.raises(ValidationError):
        services.stock_transfer(
            item=world["amox"],
            quantity=Decimal("1"),
            from_location=world["ward"],
            to_location=world["ward"],
            by=world["pharmacist"],
        )


def test_adjust_needs_a_reason_and_cannot_go_negative(world):
    lot = receive(world, world["amox"], "A1", "10", days(30)).lot
    with pytest.raises(ValidationError) as exc:
        services.stock_adjust(
            lot=lot, location=world["pharmacy"], delta=Decimal("-2"), reason=" ", by=world["pharmacist"]
        )
    assert "reason" in exc.value.message_dict
    with pytest.raises(Conflict):
        services.stock_adjust(
            lot=lot, location=world["pharmacy"], delta=Decimal("-11"), reason="count", by=world["pharmacist"]
        )
    move = services.stock_adjust(
        lot=lot, location=world["pharmacy"], delta=Decimal("-3"), reason="broken", by=world["pharmacist"]
    )
    assert move.kind == MoveKind.ADJUST and move.reason == "broken"
    assert on_hand(lot, world["pharmacy"]) == 7
    assert AuditEvent.objects.filter(object_type="inventory.StockMove", object_id=str(move.pk)).exists()


def test_moves_are_append_only(world):
    move = receive(world, world["amox"], "A1", "10", days(30))
    move.quantity = Decimal("100")
    with pytest.raises(ValidationError):
        move.save()
    with pytest.raises(TypeError):
        move.delete()


def test_write_off_expired_removes_only_expired_lots(world):
    good = receive(world, world["amox"], "GOOD", "10", days(30)).lot
    old = StockLot.objects.create(item=world["amox"], lot_number="OLD", expiry_date=days(0))
    services.stock_adjust(
        lot=old,
        location=world["pharmacy"],
        delta=Decimal("4"),
        reason="found in count",
        by=world["pharmacist"],
    )
    with pytest.raises(ValidationError):
        services.stock_write_off_expired(location=world["pharmacy"], lot=good, by=world["pharmacist"])
    moves = services.stock_write_off_expired(location=world["pharmacy"], by=world["pharmacist"])
    assert [(m.lot.lot_number, m.quantity, m.kind) for m in moves] == [("OLD", -4, MoveKind.WRITE_OFF)]
    assert on_hand(old, world["pharmacy"]) == 0 and on_hand(good, world["pharmacy"]) == 10
    assert services.stock_write_off_expired(location=world["pharmacy"], by=world["pharmacist"]) == []


def test_return_puts_stock_back_and_refuses_expired_lots(world):
    lot = receive(world, world["gloves"], "G1", "10", None).lot
    services.stock_issue(
        item=world["gloves"], location=world["pharmacy"], quantity=Decimal("4"), by=world["pharmacist"]
    )
    services.stock_return(
        lot=lot, location=world["pharmacy"], quantity=Decimal("2"), reason="unused", by=world["pharmacist"]
    )
    assert on_hand(lot, world["pharmacy"]) == 8
    old = StockLot.objects.create(item=world["amox"], lot_number="OLD", expiry_date=days(-1))
    with pytest.raises(ValidationError) as exc:
        services.stock_return(
            lot=old, location=world["pharmacy"], quantity=Decimal("1"), reason="x", by=world["pharmacist"]
        )
    assert "lot" in exc.value.message_dict


def test_reorder_alert_goes_to_every_pharmacist_once_per_day(world):
    receive(world, world["amox"], "A1", "30", days(60))
    ReorderLevel.objects.create(item=world["amox"], location=world["pharmacy"], level=Decimal("20"))
    issue = lambda q: services.stock_issue(  # noqa: E731
        item=world["amox"], location=world["pharmacy"], quantity=Decimal(q), by=world["pharmacist"]
    )
    issue("5")  # 25 left: above the level
    assert not Delivery.objects.filter(event="inventory.low_stock").exists()
    issue("5")  # 20 left: at the level
    issue("3")  # 17 left: still low, same day
    notes = Notification.objects.filter(event="inventory.low_stock")
    assert sorted(n.recipient_id for n in notes) == sorted([world["pharmacist"].pk, world["pharmacist2"].pk])
    assert "amoxicillin" in notes[0].subject and "Main pharmacy" in notes[0].subject
    assert "20" in notes[0].body
    assert not Notification.objects.filter(event="inventory.low_stock", recipient=world["nurse"]).exists()


def test_reorder_alert_counts_only_usable_stock(world):
    receive(world, world["amox"], "A1", "30", days(60))
    old = StockLot.objects.create(item=world["amox"], lot_number="OLD", expiry_date=days(-2))
    StockBalance.objects.create(
        lot=old, location=world["pharmacy"], item=world["amox"], quantity=Decimal("500")
    )
    ReorderLevel.objects.create(item=world["amox"], location=world["pharmacy"], level=Decimal("10"))
    assert services.low_stock_check(item=world["amox"], location=world["pharmacy"]) is False
    services.stock_issue(
        item=world["amox"], location=world["pharmacy"], quantity=Decimal("25"), by=world["pharmacist"]
    )
    assert Notification.objects.filter(event="inventory.low_stock").count() == 2


def test_demo_stock_is_idempotent_and_shows_alerts(world):
    from hms.inventory.demo import demo_stock
    from hms.inventory.selectors import expiring_report, low_stock_report

    demo_stock(world["pharmacist"])
    counts = (StockMove.objects.count(), StockLot.objects.count())
    demo_stock(world["pharmacist"])
    assert (StockMove.objects.count(), StockLot.objects.count()) == counts
    assert any(s.item.rxcui == "617311" for s in low_stock_report())
    assert {b.lot.lot_number for b in expiring_report(days=30)} >= {"AMX-2401", "IBU-2311", "AMX-2309"}


def test_reorder_alert_again_on_the_next_day(world):
    import datetime as dt

    receive(world, world["amox"], "A1", "10", days(60))
    ReorderLevel.objects.create(item=world["amox"], location=world["pharmacy"], level=Decimal("20"))
    today = days(0)
    assert services.low_stock_check(item=world["amox"], location=world["pharmacy"], today=today)
    assert services.low_stock_check(item=world["amox"], location=world["pharmacy"], today=today)
    assert Notification.objects.filter(recipient=world["pharmacist"]).count() == 1
    services.low_stock_check(
        item=world["amox"], location=world["pharmacy"], today=today + dt.timedelta(days=1)
    )
    assert Notification.objects.filter(recipient=world["pharmacist"]).count() == 2


def test_return_of_dispensed_medication_names_the_patient_and_is_capped(world):
    from hms.pharmacy.dispensing import prescription_dispense

    from .stock_fixtures import signed_prescription

    lot = receive(world, world["amox"], "A1", "30", days(60)).lot
    rx = signed_prescription(world["patient"], quantity="10")
    dispense = prescription_dispense(
        prescription=rx, quantity=Decimal("10"), location=world["pharmacy"], by=world["pharmacist"]
    )
    move = services.stock_return(
        lot=lot,
        location=world["pharmacy"],
        quantity=Decimal("4"),
        reason="unused",
        dispense=dispense,
        by=world["pharmacist"],
    )
    assert move.patient == world["patient"] and move.dispense == dispense
    assert AuditEvent.objects.filter(object_id=str(move.pk), patient=world["patient"]).exists()
    with pytest.raises(ValidationError) as exc:
        services.stock_return(
            lot=lot,
            location=world["pharmacy"],
            quantity=Decimal("7"),
            reason="unused",
            dispense=dispense,
            by=world["pharmacist"],
        )
    assert "At most 6" in exc.value.message_dict["quantity"][0]
    assert on_hand(lot, world["pharmacy"]) == 24
