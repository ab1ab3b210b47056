"""A two-node local Ray cluster: measurement for a device profile runs only on the device's node."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, write_campaign

from shinka.campaign.runner import Campaign

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    device_node = cluster.add_node(num_cpus=1, resources={"test_device": 1})
    ray.init(address=cluster.address, logging_level="WARNING")
    cluster.wait_for_nodes()
    yield cluster, device_node.node_id
    ray.shutdown()
    cluster.shutdown()


def device_profile(folder):
    data = yaml.safe_load((ROOT / "hardware_profiles" / "raspberry-pi-5.yaml").read_text())
    data.update(name="test-device", ray_resource="test_device", measure=False)
    path = folder / "test-device.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def cluster_campaign(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    device_profile(folder)
    config = write_campaign(
        folder,
        objectives=["val_bpb", "latency_ms_per_token_decode@test-device", "memory_mb@raspberry-pi-5"],
        hardware={"profiles": ["test-device.yaml", "raspberry-pi-5"], "warmup": 1, "repeats": 2},
        budget={"evaluations": 6},
    )
    return Campaign.prepare(config).run()


def test_cluster_measures_on_device_node(cluster, cluster_campaign):
    _, device_node = cluster
    nodes = {r["measure_nodes"]["test-device"] for r in cluster_campaign.records}
    assert nodes == {device_node}


def test_cluster_trains_on_both_nodes(cluster, cluster_campaign):
    nodes = {r["train_node"] for r in cluster_campaign.records}
    assert len(nodes) == 2


def test_cluster_device_latency_measured(cluster_campaign):
    record = cluster_campaign.records[0]
    assert record["sources"]["latency_ms_per_token_decode@test-device"] == "measured"
    assert record["sources"]["latency_ms_per_token_decode@raspberry-pi-5"] == "estimated"


def test_cluster_uses_all_workers(cluster, cluster_campaign):
    import ray

    assert ray.cluster_resources()["CPU"] == 3
