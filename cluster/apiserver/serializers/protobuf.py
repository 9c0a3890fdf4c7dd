"""Decode Kubernetes protobuf request bodies into the object's JSON form.

kubectl 1.32's typed clients (`kubectl create deployment`, `create namespace`,
`create service`, `create configmap`, ...) POST
`Content-Type: application/vnd.kubernetes.protobuf`.  Such a body is

    b"k8s\\x00" + runtime.Unknown{1: typeMeta{1: apiVersion, 2: kind},
                                 2: raw, 3: contentEncoding, 4: contentType}

where `raw` is the proto2 (gogo) encoding of the typed object.  This module
reads it with the standard library only, driven by per-message schema tables
(`_SCHEMA_SOURCE` below) whose field numbers are the ones of k8s.io/api
`generated.proto` (core/v1, apps/v1, batch/v1) and k8s.io/apimachinery
`generated.proto` (meta/v1, util/intstr, api/resource).

The result is what the same command sends when it speaks JSON: `decode()` of
`kubectl create deployment web --image=nginx` equals the JSON printed by
`kubectl create deployment web --image=nginx --dry-run=client -o json`.

Zero-value rule (gogo proto2 writes every non-pointer field, pointer fields
only when set; Go's encoding/json drops `omitempty` zero scalars but never
drops a struct):

* A scalar (string, bytes, int, bool) that is zero ("", b"", 0, false) is
  dropped, as `omitempty` would, unless its field is marked `ptr` (a Go
  pointer: it is on the wire only because it was set, so `replicas: 0`
  survives) or `req` (a Go field without `omitempty`, e.g. a container's
  `name` or a port's `containerPort`).
* A nested message that is on the wire is always kept, even when empty:
  `"resources": {}`, `"strategy": {}`, `"status": {}` and `"emptyDir": {}`
  are what Go prints too.
* `meta.v1.Time` sent as an empty message is the zero time: `null`
  (`"creationTimestamp": null`).  Otherwise it is the RFC 3339 UTC string of
  its seconds (`2024-05-01T12:00:00Z`); like the API server, nanos are not
  kept.
* `IntOrString` becomes an int or a string, `resource.Quantity` its string,
  bytes (Secret `data`, ConfigMap `binaryData`) base64 text.
* Maps are repeated {1: key, 2: value} entries; lists and maps only appear
  when they have entries.
* Fields not in the tables are skipped whatever their wire type.

Anything that is not a well-formed envelope raises `APIError` 400
BadRequest; a kind without a table raises `APIError` 415.
"""
from __future__ import annotations

import base64
import datetime as _dt
from typing import Any, NamedTuple

from cluster.apimachinery.errors import APIError

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Wire types.
_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5

_MAX_DEPTH = 100  # nesting guard for skipped groups and schema recursion


# ---------------------------------------------------------------------------
# Schemas
#
# One block per message: `message Name` then one line per field:
#     <number> <jsonName> <type> [flags]
# type:  string | bytes | int32 | int64 | bool | Time | IntOrString |
#        Quantity | <MessageName>, prefixed `[]` for a repeated field, or
#        map<valueType> for a map with string keys.
# flags: ptr     Go pointer; keep the value even when zero
#        req     JSON tag without omitempty; keep the value even when zero
#        inline  embedded struct; its fields are merged into the parent
# Only fields whose numbers were checked against generated.proto are listed;
# everything else is skipped as unknown.
# ---------------------------------------------------------------------------

_SCHEMA_SOURCE = """
# ---- k8s.io/apimachinery/pkg/apis/meta/v1 ----
message ObjectMeta
  1 name string
  2 generateName string
  3 namespace string
  4 selfLink string
  5 uid string
  6 resourceVersion string
  7 generation int64
  8 creationTimestamp Time
  9 deletionTimestamp Time ptr
  10 deletionGracePeriodSeconds int64 ptr
  11 labels map<string>
  12 annotations map<string>
  13 ownerReferences []OwnerReference
  14 finalizers []string

message OwnerReference
  5 apiVersion string req
  1 kind string req
  3 name string req
  4 uid string req
  6 controller bool ptr
  7 blockOwnerDeletion bool ptr

message LabelSelector
  1 matchLabels map<string>
  2 matchExpressions []LabelSelectorRequirement

message LabelSelectorRequirement
  1 key string req
  2 operator string req
  3 values []string

# ---- k8s.io/api/apps/v1 ----
message Deployment
  1 metadata ObjectMeta
  2 spec DeploymentSpec
  3 status DeploymentStatus

message DeploymentSpec
  1 replicas int32 ptr
  2 selector LabelSelector
  3 template PodTemplateSpec
  4 strategy DeploymentStrategy
  5 minReadySeconds int32
  6 revisionHistoryLimit int32 ptr
  7 paused bool
  9 progressDeadlineSeconds int32 ptr

message DeploymentStrategy
  1 type string
  2 rollingUpdate RollingUpdateDeployment

message RollingUpdateDeployment
  1 maxUnavailable IntOrString
  2 maxSurge IntOrString

message DeploymentStatus
  1 observedGeneration int64
  2 replicas int32
  3 updatedReplicas int32
  7 readyReplicas int32
  4 availableReplicas int32
  5 unavailableReplicas int32
  6 conditions []DeploymentCondition
  8 collisionCount int32 ptr

message DeploymentCondition
  1 type string req
  2 status string req
  6 lastUpdateTime Time
  7 lastTransitionTime Time
  4 reason string
  5 message string

message ReplicaSet
  1 metadata ObjectMeta
  2 spec ReplicaSetSpec
  3 status ReplicaSetStatus

message ReplicaSetSpec
  1 replicas int32 ptr
  4 minReadySeconds int32
  2 selector LabelSelector
  3 template PodTemplateSpec

message ReplicaSetStatus
  1 replicas int32 req
  2 fullyLabeledReplicas int32
  4 readyReplicas int32
  5 availableReplicas int32
  3 observedGeneration int64
  6 conditions []ReplicaSetCondition

message ReplicaSetCondition
  1 type string req
  2 status string req
  3 lastTransitionTime Time
  4 reason string
  5 message string

# ---- k8s.io/api/batch/v1 ----
message Job
  1 metadata ObjectMeta
  2 spec JobSpec
  3 status JobStatus

message JobSpec
  1 parallelism int32 ptr
  2 completions int32 ptr
  3 activeDeadlineSeconds int64 ptr
  7 backoffLimit int32 ptr
  4 selector LabelSelector
  5 manualSelector bool ptr
  6 template PodTemplateSpec
  8 ttlSecondsAfterFinished int32 ptr
  9 completionMode string ptr
  10 suspend bool ptr

message JobStatus
  1 conditions []JobCondition
  2 startTime Time ptr
  3 completionTime Time ptr
  4 active int32
  5 succeeded int32
  6 failed int32
  7 completedIndexes string
  9 ready int32 ptr

message JobCondition
  1 type string req
  2 status string req
  3 lastProbeTime Time
  4 lastTransitionTime Time
  5 reason string
  6 message string

message JobTemplateSpec
  1 metadata ObjectMeta
  2 spec JobSpec

message CronJob
  1 metadata ObjectMeta
  2 spec CronJobSpec
  3 status CronJobStatus

message CronJobSpec
  1 schedule string req
  8 timeZone string ptr
  2 startingDeadlineSeconds int64 ptr
  3 concurrencyPolicy string
  4 suspend bool ptr
  5 jobTemplate JobTemplateSpec
  6 successfulJobsHistoryLimit int32 ptr
  7 failedJobsHistoryLimit int32 ptr

message CronJobStatus
  1 active []ObjectReference
  4 lastScheduleTime Time ptr
  5 lastSuccessfulTime Time ptr

# ---- k8s.io/api/core/v1: workloads ----
message Pod
  1 metadata ObjectMeta
  2 spec PodSpec
  3 status PodStatus

message PodTemplateSpec
  1 metadata ObjectMeta
  2 spec PodSpec

message PodSpec
  1 volumes []Volume
  20 initContainers []Container
  2 containers []Container
  34 ephemeralContainers []EphemeralContainer
  3 restartPolicy string
  4 terminationGracePeriodSeconds int64 ptr
  5 activeDeadlineSeconds int64 ptr
  6 dnsPolicy string
  7 nodeSelector map<string>
  8 serviceAccountName string
  9 serviceAccount string
  21 automountServiceAccountToken bool ptr
  10 nodeName string
  11 hostNetwork bool
  12 hostPID bool
  13 hostIPC bool
  27 shareProcessNamespace bool ptr
  14 securityContext PodSecurityContext
  15 imagePullSecrets []LocalObjectReference
  16 hostname string
  17 subdomain string
  18 affinity Affinity
  19 schedulerName string
  22 tolerations []Toleration
  23 hostAliases []HostAlias
  24 priorityClassName string
  25 priority int32 ptr
  26 dnsConfig PodDNSConfig
  28 readinessGates []PodReadinessGate
  29 runtimeClassName string ptr
  30 enableServiceLinks bool ptr
  31 preemptionPolicy string ptr
  32 overhead map<Quantity>
  33 topologySpreadConstraints []TopologySpreadConstraint
  35 setHostnameAsFQDN bool ptr
  37 hostUsers bool ptr
  40 resources ResourceRequirements

message Container
  1 name string req
  2 image string
  3 command []string
  4 args []string
  5 workingDir string
  6 ports []ContainerPort
  19 envFrom []EnvFromSource
  7 env []EnvVar
  8 resources ResourceRequirements
  23 resizePolicy []ContainerResizePolicy
  24 restartPolicy string ptr
  9 volumeMounts []VolumeMount
  21 volumeDevices []VolumeDevice
  10 livenessProbe Probe
  11 readinessProbe Probe
  22 startupProbe Probe
  12 lifecycle Lifecycle
  13 terminationMessagePath string
  20 terminationMessagePolicy string
  14 imagePullPolicy string
  15 securityContext SecurityContext
  16 stdin bool
  17 stdinOnce bool
  18 tty bool

message EphemeralContainer
  1 ephemeralContainerCommon Container inline
  2 targetContainerName string

message ContainerPort
  1 name string
  2 hostPort int32
  3 containerPort int32 req
  4 protocol string
  5 hostIP string

message ContainerResizePolicy
  1 resourceName string req
  2 restartPolicy string req

message EnvVar
  1 name string req
  2 value string
  3 valueFrom EnvVarSource

message EnvVarSource
  1 fieldRef ObjectFieldSelector
  2 resourceFieldRef ResourceFieldSelector
  3 configMapKeyRef ConfigMapKeySelector
  4 secretKeyRef SecretKeySelector

message ObjectFieldSelector
  1 apiVersion string
  2 fieldPath string req

message ResourceFieldSelector
  1 containerName string
  2 resource string req
  3 divisor Quantity

message ConfigMapKeySelector
  1 localObjectReference LocalObjectReference inline
  2 key string req
  3 optional bool ptr

message SecretKeySelector
  1 localObjectReference LocalObjectReference inline
  2 key string req
  3 optional bool ptr

message LocalObjectReference
  1 name string

message EnvFromSource
  1 prefix string
  2 configMapRef ConfigMapEnvSource
  3 secretRef SecretEnvSource

message ConfigMapEnvSource
  1 localObjectReference LocalObjectReference inline
  2 optional bool ptr

message SecretEnvSource
  1 localObjectReference LocalObjectReference inline
  2 optional bool ptr

message ResourceRequirements
  1 limits map<Quantity>
  2 requests map<Quantity>
  3 claims []ResourceClaim

message ResourceClaim
  1 name string req
  2 request string

message VolumeMount
  1 name string req
  2 readOnly bool
  7 recursiveReadOnly string ptr
  3 mountPath string req
  4 subPath string
  5 mountPropagation string ptr
  6 subPathExpr string

message VolumeDevice
  1 name string req
  2 devicePath string req

message Probe
  1 handler ProbeHandler inline
  2 initialDelaySeconds int32
  3 timeoutSeconds int32
  4 periodSeconds int32
  5 successThreshold int32
  6 failureThreshold int32
  7 terminationGracePeriodSeconds int64 ptr

message ProbeHandler
  1 exec ExecAction
  2 httpGet HTTPGetAction
  3 tcpSocket TCPSocketAction
  4 grpc GRPCAction

message ExecAction
  1 command []string

message HTTPGetAction
  1 path string
  2 port IntOrString
  3 host string
  4 scheme string
  5 httpHeaders []HTTPHeader

message HTTPHeader
  1 name string req
  2 value string req

message TCPSocketAction
  1 port IntOrString
  2 host string

message GRPCAction
  1 port int32 req
  2 service string ptr

message Lifecycle
  1 postStart LifecycleHandler
  2 preStop LifecycleHandler

message LifecycleHandler
  1 exec ExecAction
  2 httpGet HTTPGetAction
  3 tcpSocket TCPSocketAction
  4 sleep SleepAction

message SleepAction
  1 seconds int64 req

message SecurityContext
  1 capabilities Capabilities
  2 privileged bool ptr
  3 seLinuxOptions SELinuxOptions
  10 windowsOptions WindowsSecurityContextOptions
  4 runAsUser int64 ptr
  8 runAsGroup int64 ptr
  5 runAsNonRoot bool ptr
  6 readOnlyRootFilesystem bool ptr
  7 allowPrivilegeEscalation bool ptr
  9 procMount string ptr
  11 seccompProfile SeccompProfile

message PodSecurityContext
  1 seLinuxOptions SELinuxOptions
  8 windowsOptions WindowsSecurityContextOptions
  2 runAsUser int64 ptr
  6 runAsGroup int64 ptr
  3 runAsNonRoot bool ptr
  4 supplementalGroups []int64
  5 fsGroup int64 ptr
  7 sysctls []Sysctl
  9 fsGroupChangePolicy string ptr
  10 seccompProfile SeccompProfile
  13 seLinuxChangePolicy string ptr

message Capabilities
  1 add []string
  2 drop []string

message SELinuxOptions
  1 user string
  2 role string
  3 type string
  4 level string

message WindowsSecurityContextOptions
  1 gmsaCredentialSpecName string ptr
  2 gmsaCredentialSpec string ptr
  3 runAsUserName string ptr

message SeccompProfile
  1 type string req
  2 localhostProfile string ptr

message Sysctl
  1 name string req
  2 value string req

message Volume
  1 name string req
  2 volumeSource VolumeSource inline

message VolumeSource
  1 hostPath HostPathVolumeSource
  2 emptyDir EmptyDirVolumeSource
  6 secret SecretVolumeSource
  7 nfs NFSVolumeSource
  10 persistentVolumeClaim PersistentVolumeClaimVolumeSource
  16 downwardAPI DownwardAPIVolumeSource
  19 configMap ConfigMapVolumeSource
  26 projected ProjectedVolumeSource

message HostPathVolumeSource
  1 path string req
  2 type string ptr

message EmptyDirVolumeSource
  1 medium string
  2 sizeLimit Quantity ptr

message SecretVolumeSource
  1 secretName string
  2 items []KeyToPath
  3 defaultMode int32 ptr
  4 optional bool ptr

message ConfigMapVolumeSource
  1 localObjectReference LocalObjectReference inline
  2 items []KeyToPath
  3 defaultMode int32 ptr
  4 optional bool ptr

message NFSVolumeSource
  1 server string req
  2 path string req
  3 readOnly bool

message PersistentVolumeClaimVolumeSource
  1 claimName string req
  2 readOnly bool

message KeyToPath
  1 key string req
  2 path string req
  3 mode int32 ptr

message DownwardAPIVolumeSource
  1 items []DownwardAPIVolumeFile
  2 defaultMode int32 ptr

message DownwardAPIVolumeFile
  1 path string req
  2 fieldRef ObjectFieldSelector
  3 resourceFieldRef ResourceFieldSelector
  4 mode int32 ptr

message ProjectedVolumeSource
  1 sources []VolumeProjection
  2 defaultMode int32 ptr

message VolumeProjection
  1 secret SecretProjection
  2 downwardAPI DownwardAPIProjection
  3 configMap ConfigMapProjection
  4 serviceAccountToken ServiceAccountTokenProjection

message SecretProjection
  1 localObjectReference LocalObjectReference inline
  2 items []KeyToPath
  4 optional bool ptr

message ConfigMapProjection
  1 localObjectReference LocalObjectReference inline
  2 items []KeyToPath
  4 optional bool ptr

message DownwardAPIProjection
  1 items []DownwardAPIVolumeFile

message ServiceAccountTokenProjection
  1 audience string
  2 expirationSeconds int64 ptr
  3 path string req

message Affinity
  1 nodeAffinity NodeAffinity
  2 podAffinity PodAffinity
  3 podAntiAffinity PodAffinity

message NodeAffinity
  1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector
  2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm

message NodeSelector
  1 nodeSelectorTerms []NodeSelectorTerm

message NodeSelectorTerm
  1 matchExpressions []NodeSelectorRequirement
  2 matchFields []NodeSelectorRequirement

message NodeSelectorRequirement
  1 key string req
  2 operator string req
  3 values []string

message PreferredSchedulingTerm
  1 weight int32 req
  2 preference NodeSelectorTerm

message PodAffinity
  1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm
  2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm

message PodAffinityTerm
  1 labelSelector LabelSelector
  2 namespaces []string
  3 topologyKey string req
  4 namespaceSelector LabelSelector

message WeightedPodAffinityTerm
  1 weight int32 req
  2 podAffinityTerm PodAffinityTerm

message Toleration
  1 key string
  2 operator string
  3 value string
  4 effect string
  5 tolerationSeconds int64 ptr

message HostAlias
  1 ip string
  2 hostnames []string

message PodDNSConfig
  1 nameservers []string
  2 searches []string
  3 options []PodDNSConfigOption

message PodDNSConfigOption
  1 name string
  2 value string ptr

message PodReadinessGate
  1 conditionType string req

message TopologySpreadConstraint
  1 maxSkew int32 req
  2 topologyKey string req
  3 whenUnsatisfiable string req
  4 labelSelector LabelSelector

message PodStatus
  1 phase string
  2 conditions []PodCondition
  3 message string
  4 reason string
  11 nominatedNodeName string
  5 hostIP string
  16 hostIPs []HostIP
  6 podIP string
  12 podIPs []PodIP
  7 startTime Time ptr
  10 initContainerStatuses []ContainerStatus
  8 containerStatuses []ContainerStatus
  9 qosClass string
  13 ephemeralContainerStatuses []ContainerStatus

message PodCondition
  1 type string req
  2 status string req
  3 lastProbeTime Time
  4 lastTransitionTime Time
  5 reason string
  6 message string

message HostIP
  1 ip string

message PodIP
  1 ip string

message ContainerStatus
  1 name string req
  2 state ContainerState
  3 lastState ContainerState
  4 ready bool req
  5 restartCount int32 req
  6 image string req
  7 imageID string req
  8 containerID string
  9 started bool ptr
  10 allocatedResources map<Quantity>
  11 resources ResourceRequirements

message ContainerState
  1 waiting ContainerStateWaiting
  2 running ContainerStateRunning
  3 terminated ContainerStateTerminated

message ContainerStateWaiting
  1 reason string
  2 message string

message ContainerStateRunning
  1 startedAt Time

message ContainerStateTerminated
  1 exitCode int32 req
  2 signal int32
  3 reason string
  4 message string
  5 startedAt Time
  6 finishedAt Time
  7 containerID string

# ---- k8s.io/api/core/v1: the rest ----
message Namespace
  1 metadata ObjectMeta
  2 spec NamespaceSpec
  3 status NamespaceStatus

message NamespaceSpec
  1 finalizers []string

message NamespaceStatus
  1 phase string
  2 conditions []NamespaceCondition

message NamespaceCondition
  1 type string req
  2 status string req
  4 lastTransitionTime Time
  5 reason string
  6 message string

message Service
  1 metadata ObjectMeta
  2 spec ServiceSpec
  3 status ServiceStatus

message ServiceSpec
  1 ports []ServicePort
  2 selector map<string>
  3 clusterIP string
  18 clusterIPs []string
  4 type string
  5 externalIPs []string
  7 sessionAffinity string
  8 loadBalancerIP string
  9 loadBalancerSourceRanges []string
  10 externalName string
  11 externalTrafficPolicy string
  12 healthCheckNodePort int32
  13 publishNotReadyAddresses bool
  14 sessionAffinityConfig SessionAffinityConfig
  19 ipFamilies []string
  17 ipFamilyPolicy string ptr
  20 allocateLoadBalancerNodePorts bool ptr
  21 loadBalancerClass string ptr
  22 internalTrafficPolicy string ptr
  23 trafficDistribution string ptr

message ServicePort
  1 name string
  2 protocol string
  6 appProtocol string ptr
  3 port int32 req
  4 targetPort IntOrString
  5 nodePort int32

message SessionAffinityConfig
  1 clientIP ClientIPConfig

message ClientIPConfig
  1 timeoutSeconds int32 ptr

message ServiceStatus
  1 loadBalancer LoadBalancerStatus

message LoadBalancerStatus
  1 ingress []LoadBalancerIngress

message LoadBalancerIngress
  1 ip string
  2 hostname string
  4 ports []PortStatus

message PortStatus
  1 port int32 req
  2 protocol string req
  3 error string ptr

message ConfigMap
  1 metadata ObjectMeta
  4 immutable bool ptr
  2 data map<string>
  3 binaryData map<bytes>

message Secret
  1 metadata ObjectMeta
  5 immutable bool ptr
  2 data map<bytes>
  4 stringData map<string>
  3 type string

message ServiceAccount
  1 metadata ObjectMeta
  2 secrets []ObjectReference
  3 imagePullSecrets []LocalObjectReference
  4 automountServiceAccountToken bool ptr

message ObjectReference
  1 kind string
  2 namespace string
  3 name string
  4 uid string
  5 apiVersion string
  6 resourceVersion string
  7 fieldPath string

message ResourceQuota
  1 metadata ObjectMeta
  2 spec ResourceQuotaSpec
  3 status ResourceQuotaStatus

message ResourceQuotaSpec
  1 hard map<Quantity>
  2 scopes []string
  3 scopeSelector ScopeSelector

message ScopeSelector
  1 matchExpressions []ScopedResourceSelectorRequirement

message ScopedResourceSelectorRequirement
  1 scopeName string req
  2 operator string req
  3 values []string

message ResourceQuotaStatus
  1 hard map<Quantity>
  2 used map<Quantity>

message TypedLocalObjectReference
  1 apiGroup string ptr
  2 kind string req
  3 name string req

# ---- k8s.io/api/networking/v1 ----
message Ingress
  1 metadata ObjectMeta
  2 spec IngressSpec
  3 status IngressStatus

message IngressSpec
  4 ingressClassName string ptr
  1 defaultBackend IngressBackend
  2 tls []IngressTLS
  3 rules []IngressRule

message IngressBackend
  4 service IngressServiceBackend
  3 resource TypedLocalObjectReference

message IngressServiceBackend
  1 name string req
  2 port ServiceBackendPort

message ServiceBackendPort
  1 name string
  2 number int32

message IngressTLS
  1 hosts []string
  2 secretName string

message IngressRule
  1 host string
  2 ingressRuleValue IngressRuleValue inline

message IngressRuleValue
  1 http HTTPIngressRuleValue

message HTTPIngressRuleValue
  1 paths []HTTPIngressPath

message HTTPIngressPath
  1 path string
  3 pathType string ptr
  2 backend IngressBackend

message IngressStatus
  1 loadBalancer IngressLoadBalancerStatus

message IngressLoadBalancerStatus
  1 ingress []IngressLoadBalancerIngress

message IngressLoadBalancerIngress
  1 ip string
  2 hostname string
  4 ports []IngressPortStatus

message IngressPortStatus
  1 port int32 req
  2 protocol string req
  3 error string ptr

message IngressClass
  1 metadata ObjectMeta
  2 spec IngressClassSpec

message IngressClassSpec
  1 controller string
  2 parameters IngressClassParametersReference

message IngressClassParametersReference
  1 apiGroup string ptr
  2 kind string req
  3 name string req
  4 scope string ptr
  5 namespace string ptr
"""

# Top-level kinds: (apiVersion, kind) -> message.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Pod"): "Pod",
    ("v1", "Namespace"): "Namespace",
    ("v1", "Service"): "Service",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "IngressClass",
}

_SCALARS = {"string", "bytes", "int32", "int64", "bool"}
_SPECIAL = {"Time", "IntOrString", "Quantity"}
_FLAGS = {"ptr", "req", "inline"}


class Field(NamedTuple):
    name: str
    type: str          # scalar, special, or message name (value type for maps)
    repeated: bool
    is_map: bool
    keep_zero: bool    # ptr or req
    inline: bool


def _parse_schemas(source: str) -> dict[str, dict[int, Field]]:
    messages: dict[str, dict[int, Field]] = {}
    current: dict[int, Field] | None = None
    for lineno, raw in enumerate(source.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "message":
            if len(words) != 2 or words[1] in messages:
                raise ValueError(f"schema line {lineno}: bad message header {raw!r}")
            current = messages[words[1]] = {}
            continue
        if current is None or len(words) < 3 or not words[0].isdigit():
            raise ValueError(f"schema line {lineno}: bad field {raw!r}")
        number, name, typ, flags = int(words[0]), words[1], words[2], set(words[3:])
        if flags - _FLAGS or number in current or number < 1:
            raise ValueError(f"schema line {lineno}: bad field {raw!r}")
        repeated = typ.startswith("[]")
        is_map = typ.startswith("map<") and typ.endswith(">")
        if repeated:
            typ = typ[2:]
        elif is_map:
            typ = typ[4:-1]
        current[number] = Field(name, typ, repeated, is_map, bool(flags & {"ptr", "req"}), "inline" in flags)
    for mname, fields in messages.items():
        for f in fields.values():
            if f.type not in _SCALARS and f.type not in _SPECIAL and f.type not in messages:
                raise ValueError(f"schema {mname}.{f.name}: unknown type {f.type}")
            if f.inline and (f.type not in messages or f.repeated or f.is_map):
                raise ValueError(f"schema {mname}.{f.name}: only single messages can be inline")
    return messages


MESSAGES = _parse_schemas(_SCHEMA_SOURCE)
for _kind_message in KINDS.values():
    assert _kind_message in MESSAGES, _kind_message


# ---------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------

class _Malformed(Exception):
    """Internal: the bytes are not valid protobuf for the expected shape."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise _Malformed("varint overflows 64 bits")
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint longer than 10 bytes")


def _tag(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    key, pos = _varint(buf, pos, end)
    number, wire = key >> 3, key & 7
    if number == 0 or number > 0x1FFFFFFF:
        raise _Malformed(f"invalid field number {number}")
    return number, wire, pos


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    n, pos = _varint(buf, pos, end)
    if n > end - pos:
        raise _Malformed("length-delimited field runs past the end of its message")
    return pos, pos + n


def _skip(buf: bytes, pos: int, end: int, wire: int, number: int, depth: int) -> int:
    if wire == _VARINT:
        return _varint(buf, pos, end)[1]
    if wire == _I64:
        if end - pos < 8:
            raise _Malformed("truncated 64-bit field")
        return pos + 8
    if wire == _I32:
        if end - pos < 4:
            raise _Malformed("truncated 32-bit field")
        return pos + 4
    if wire == _LEN:
        return _length(buf, pos, end)[1]
    if wire == _SGROUP:
        if depth > _MAX_DEPTH:
            raise _Malformed("groups nested too deeply")
        while True:
            inner, inner_wire, pos = _tag(buf, pos, end)
            if inner_wire == _EGROUP:
                if inner != number:
                    raise _Malformed("mismatched end of group")
                return pos
            pos = _skip(buf, pos, end, inner_wire, inner, depth + 1)
    if wire == _EGROUP:
        raise _Malformed("end of group without a start")
    raise _Malformed(f"invalid wire type {wire}")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(data: bytes) -> str:
    # Go strings may hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
    text = data.decode("utf-8", errors="replace")
    if "\x00" in text:
        # PostgreSQL's jsonb cannot store U+0000: refused as the JSON and YAML readers
        # refuse it (cluster.apiserver.serializers.patch._refuse_nul), rather than failing inside the write.
        raise _Malformed("strings may not contain NUL (U+0000) characters")
    return text


def _iter_fields(buf: bytes, start: int, end: int):
    """Yield (number, wire, value) with value = int for varint/fixed, (start, end) for LEN."""
    pos = start
    while pos < end:
        number, wire, pos = _tag(buf, pos, end)
        if wire == _LEN:
            s, pos = _length(buf, pos, end)
            yield number, wire, (s, pos)
        elif wire == _VARINT:
            v, pos = _varint(buf, pos, end)
            yield number, wire, v
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if end - pos < width:
                raise _Malformed("truncated fixed-width field")
            yield number, wire, int.from_bytes(buf[pos:pos + width], "little")
            pos += width
        else:
            pos = _skip(buf, pos, end, wire, number, 0)
            yield number, wire, None


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def _scalar(typ: str, wire: int, value: Any, buf: bytes) -> Any:
    if typ in ("string", "bytes"):
        if wire != _LEN:
            raise _Malformed(f"{typ} field with wire type {wire}")
        data = buf[value[0]:value[1]]
        return _text(data) if typ == "string" else data
    if wire != _VARINT:
        raise _Malformed(f"{typ} field with wire type {wire}")
    if typ == "bool":
        return value != 0
    return _signed(value, 32 if typ == "int32" else 64)


def _packed(typ: str, buf: bytes, start: int, end: int) -> list[Any]:
    out = []
    pos = start
    while pos < end:
        v, pos = _varint(buf, pos, end)
        out.append(_scalar(typ, _VARINT, v, buf))
    return out


def _time(buf: bytes, start: int, end: int) -> str | None:
    if start == end:
        return None  # the zero time; Go prints null
    seconds = 0
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            if wire != _VARINT:
                raise _Malformed("Time.seconds with wrong wire type")
            seconds = _signed(value, 64)
        # field 2 (nanos) is dropped, as the API server does for meta.v1.Time
    try:
        moment = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=seconds)
    except OverflowError as exc:
        raise _Malformed("Time out of range") from exc
    if not 1 <= moment.year <= 9999:
        raise _Malformed("Time out of range")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(buf: bytes, start: int, end: int) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            kind = _scalar("int64", wire, value, buf)
        elif number == 2:
            int_val = _scalar("int32", wire, value, buf)
        elif number == 3:
            str_val = _scalar("string", wire, value, buf)
    if kind == 0:
        return int_val
    if kind == 1:
        return str_val
    raise _Malformed(f"IntOrString with unknown type {kind}")


def _quantity(buf: bytes, start: int, end: int) -> str:
    text = "0"  # a zero Quantity prints as "0"
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            text = _scalar("string", wire, value, buf)
    return text


def _value(typ: str, wire: int, value: Any, buf: bytes, depth: int) -> Any:
    if typ in _SCALARS:
        return _scalar(typ, wire, value, buf)
    if wire != _LEN:
        raise _Malformed(f"{typ} field with wire type {wire}")
    start, end = value
    if typ == "Time":
        return _time(buf, start, end)
    if typ == "IntOrString":
        return _int_or_string(buf, start, end)
    if typ == "Quantity":
        return _quantity(buf, start, end)
    return _message(typ, buf, start, end, depth + 1)


def _is_zero(v: Any) -> bool:
    return v is False or (v == 0 and not isinstance(v, bool)) or v == "" or v == b""


def _json_scalar(v: Any) -> Any:
    return base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v


def _map_entry(field: Field, buf: bytes, start: int, end: int, depth: int) -> tuple[str, Any]:
    key: str = ""
    val: Any = None
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            key = _scalar("string", wire, value, buf)
        elif number == 2:
            val = _value(field.type, wire, value, buf, depth)
    if val is None:  # value missing on the wire: Go's zero value
        if field.type == "string":
            val = ""
        elif field.type == "bytes":
            val = b""
        elif field.type == "Quantity":
            val = "0"
        elif field.type in MESSAGES:
            val = {}
    return key, _json_scalar(val)


def _message(name: str, buf: bytes, start: int, end: int, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise _Malformed("messages nested too deeply")
    schema = MESSAGES[name]
    found: dict[int, Any] = {}
    for number, wire, value in _iter_fields(buf, start, end):
        field = schema.get(number)
        if field is None:
            continue  # unknown field: already skipped by _iter_fields
        if field.is_map:
            if wire != _LEN:
                raise _Malformed(f"map {name}.{field.name} with wire type {wire}")
            k, v = _map_entry(field, buf, value[0], value[1], depth)
            found.setdefault(number, {})[k] = v
        elif field.repeated:
            items = found.setdefault(number, [])
            if field.type in ("int32", "int64", "bool") and wire == _LEN:
                items.extend(_packed(field.type, buf, value[0], value[1]))
            else:
                items.append(_json_scalar(_value(field.type, wire, value, buf, depth)))
        else:
            v = _value(field.type, wire, value, buf, depth)
            if field.type in MESSAGES and isinstance(found.get(number), dict):
                found[number].update(v)  # protobuf merges repeated singular messages
            else:
                found[number] = v
    out: dict[str, Any] = {}
    for number, field in schema.items():
        if number not in found:
            continue
        v = found[number]
        if field.inline:
            out.update(v)
        elif field.type in _SCALARS and not field.repeated and not field.is_map:
            if _is_zero(v) and not field.keep_zero:
                continue
            out[field.name] = _json_scalar(v)
        else:
            out[field.name] = v
    return out


# ---------------------------------------------------------------------------
# Envelope
# ---------------------------------------------------------------------------

def _bad(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def _unsupported(kind: str, api_version: str) -> APIError:
    what = f"{api_version} {kind}".strip() or "an unnamed kind"
    return APIError(
        415,
        "UnsupportedMediaType",
        f"podflow cannot decode protobuf for kind {what}; send JSON (Content-Type: application/json)",
    )


def unwrap(body: bytes) -> tuple[str, str, bytes]:
    """Return (apiVersion, kind, raw) from a `k8s\\x00` + runtime.Unknown body."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise _bad("protobuf body must be bytes")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise _bad("request body is not a Kubernetes protobuf envelope (missing the k8s\\x00 prefix)")
    try:
        api_version = kind = encoding = ""
        raw = b""
        end = len(body)
        for number, wire, value in _iter_fields(body, len(MAGIC), end):
            if number == 1:
                if wire != _LEN:
                    raise _Malformed("typeMeta with wrong wire type")
                for n2, w2, v2 in _iter_fields(body, value[0], value[1]):
                    if n2 == 1:
                        api_version = _scalar("string", w2, v2, body)
                    elif n2 == 2:
                        kind = _scalar("string", w2, v2, body)
            elif number == 2:
                raw = _scalar("bytes", wire, value, body)
            elif number == 3:
                encoding = _scalar("string", wire, value, body)
    except _Malformed as exc:
        raise _bad(f"malformed protobuf envelope: {exc}") from None
    if encoding:
        raise _bad(f"protobuf envelope with contentEncoding {encoding!r} is not supported")
    return api_version, kind, raw


def decode(body: bytes) -> dict[str, Any]:
    """Decode a `application/vnd.kubernetes.protobuf` request body into the object's JSON dict.

    Raises APIError 400 BadRequest for anything that is not a well-formed
    envelope and object, and 415 UnsupportedMediaType for a kind podflow has
    no schema for.
    """
    api_version, kind, raw = unwrap(body)
    if not kind:
        raise _bad("protobuf envelope names no kind")
    if not raw:
        raise _bad(f"protobuf envelope for {kind} carries no object")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise _unsupported(kind, api_version)
    try:
        obj = _message(message, raw, 0, len(raw), 0)
    except _Malformed as exc:
        raise _bad(f"malformed protobuf {kind}: {exc}") from None
    except RecursionError:
        raise _bad(f"malformed protobuf {kind}: nested too deeply") from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def is_protobuf(content_type: str | None) -> bool:
    """True for a Content-Type naming the Kubernetes protobuf media type (parameters ignored)."""
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == CONTENT_TYPE
