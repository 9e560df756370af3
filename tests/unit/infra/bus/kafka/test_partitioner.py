from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from onex_host.infra.bus.kafka.clients import new_producer
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.partitioner import Murmur2Partitioner, murmur2

# org.apache.kafka.common.utils.UtilsTest#testMurmur2: the Java client's own vectors (signed ints there).
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), JAVA_VECTORS.items())
def test_murmur2_gives_the_java_clients_values(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected & 0xFFFFFFFF


@given(st.binary(max_size=300))
def test_murmur2_equals_aiokafkas_for_every_input(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(
    key=st.binary(max_size=64),
    partitions=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=64, unique=True),
)
def test_a_key_goes_where_aiokafkas_default_partitioner_sends_it(key: bytes, partitions: list[int]) -> None:
    ordered = sorted(partitions)
    assert Murmur2Partitioner()(key, ordered, ordered) == DefaultPartitioner()(key, ordered, ordered)


def test_a_keyless_record_goes_to_an_available_partition() -> None:
    partitioner = Murmur2Partitioner()
    assert {partitioner(None, [0, 1, 2, 3], [2]) for _ in range(50)} == {2}
    assert {partitioner(None, [0, 1, 2, 3], []) for _ in range(200)} == {0, 1, 2, 3}


async def test_the_bus_producer_partitions_with_it() -> None:
    config = KafkaBusConfig(
        bootstrap_servers=["127.0.0.1:1"], consumer_group="g", command_topic="c", response_topic="r"
    )
    producer = new_producer(config)
    assert isinstance(producer._partitioner, Murmur2Partitioner)
