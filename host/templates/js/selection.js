
export const selection = {
  selectTemplate(request) {
    // Overrides name what the service wants; the default policy honours them.
    if (request.overrides !== undefined) {
      return defaults.selectTemplate(request);
    }
    const available = new Set(request.availableGpuModels.map((gpu) => gpu.toLowerCase()));
    const runnable = request.candidates
      .map((candidate, index) => ({ candidate, index }))
      .filter(({ candidate }) => candidate.status === 'Ready' && !candidate.derived)
      .filter(({ candidate }) => available.has((candidate.gpuModel ?? '').toLowerCase()));
    const gpus = ({ candidate }) => candidate.gpuCount ?? 1;
    const fewest = Math.min(...runnable.map(gpus));
    const cheapest = runnable.filter((entry) => gpus(entry) === fewest);
    if (cheapest.length === 1) {
      const { candidate, index } = cheapest[0];
      return { index, name: candidate.name, count: 1, reason: 'selected' };
    }
    // None, or a tie: the default policy ranks them (and says why nothing fits).
    return defaults.selectTemplate(request);
  },
};
