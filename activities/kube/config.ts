import { KubeConfig } from '@kubernetes/client-node';

/** KUBECONFIG (or an explicit path) when set, else the in-cluster service account, else ~/.kube/config. */
export function loadKubeConfig(path = process.env.KUBECONFIG): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
